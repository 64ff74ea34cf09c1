import { contradictions, Evidence, Movement, planFor } from '../../src/operator/plan';
import type { SagaFacts } from '../../src/saga/facts';

// The compensation plan decides from facts alone (the saga's records and the ledger): what an
// operator's `saga compensate` may undo, with which amounts, and when it must refuse instead.

const facts = (over: Partial<SagaFacts> = {}): SagaFacts => ({
  transactionId: 'tx-1', status: 'in_progress', errorCode: null, mode: 'orchestration', userId: 'user-1', itemId: 'item-1', quantity: 2,
  total: '200.00', createdAt: new Date('2025-03-01T10:00:00Z'), leaseOwner: null, leaseExpired: true, committed: [], compensated: [],
  pendingEvents: [], ...over,
});
const move = (id: string, over: Partial<Movement>): Movement =>
  ({ id, step: null, kind: null, account: 'user', accountId: 'user-1', delta: '-200.00', at: '2025-03-01T10:00:01', ...over });
const debit = (id: string) => move(id, { step: 'validate_user', kind: 'forward' });
const reserve = (id: string) => move(id, { step: 'reserve_inventory', kind: 'forward', account: 'item', accountId: 'item-1', delta: '-2' });
const outside = (id: string, delta: string, over: Partial<Movement> = {}) =>
  move(id, { delta, who: 'app_user', application: 'billing-service', xact: '9001', ...over });
const stuck = { includeCompleted: false, stuck: true };

describe('--undo STEP, the audited override', () => {
  test('a step undone already is refused, whether its record or only the ledger says so', () => {
    const byRecord = planFor('tx-1', facts({ status: 'compensating', committed: ['validate_user'], compensated: ['validate_user'] }),
      { movements: [debit('1'), move('2', { step: 'validate_user', kind: 'compensation', delta: '200.00' })], unexplained: [] },
      { ...stuck, override: 'validate_user' });
    expect([byRecord.refusal, byRecord.undo]).toEqual(['--undo validate_user: it is undone already', []]);
    const byLedger = planFor('tx-1', facts({ committed: ['validate_user'] }),
      { movements: [debit('1'), move('2', { step: 'validate_user', kind: 'compensation', delta: '200.00' })], unexplained: [] },
      { ...stuck, override: 'validate_user' });
    expect(byLedger.refusal).toBe('--undo validate_user: it is undone already');
    expect(byLedger.repair).toBeUndefined();
  });

  test('the saga\'s own movement is in the ledger but its record is missing: the record is written from it, then undone', () => {
    const plan = planFor('tx-1', facts({ committed: ['validate_user'] }), { movements: [debit('7'), reserve('8')], unexplained: [] },
      { ...stuck, override: 'reserve_inventory' });
    expect(plan.refusal).toBeUndefined();
    expect(plan.repair).toEqual({ step: 'reserve_inventory', movement: '8', writeRecord: true });
    expect(plan.undo).toEqual([
      { step: 'reserve_inventory', action: 'restock 2 item-1', restock: 2, movement: '8' },
      { step: 'validate_user', action: 'refund 200.00 to user-1', refund: '200.00', movement: '7' },
    ]);
  });

  test('record and movement both there: nothing to repair, the plan is the one without the override', () => {
    const f = facts({ committed: ['validate_user'] });
    const e: Evidence = { movements: [debit('7')], unexplained: [] };
    const plan = planFor('tx-1', f, e, { ...stuck, override: 'validate_user' });
    expect(plan.repair).toBeUndefined();
    expect(plan).toEqual(planFor('tx-1', f, e, stuck));
    expect(plan.undo.map((u) => u.action)).toEqual(['refund 200.00 to user-1']);
  });

  test('two unattributed debits of the amount on the account: which is this saga\'s cannot be told, refused with both', () => {
    const plan = planFor('tx-1', facts(), { movements: [], unexplained: [outside('3', '-200.00'), outside('4', '-200.00')] },
      { ...stuck, override: 'validate_user' });
    expect(plan.refusal).toBe('--undo validate_user: the ledger shows several candidate movements; nothing is undone');
    expect(plan.facts).toHaveLength(2);
    expect(plan.undo).toEqual([]);
  });

  test('one unattributed debit of exactly the amount: attributed to the step, its record written, refunded', () => {
    const plan = planFor('tx-1', facts(), { movements: [], unexplained: [outside('3', '-200.00')] }, { ...stuck, override: 'validate_user' });
    expect(plan.repair).toEqual({ step: 'validate_user', movement: '3', writeRecord: true });
    expect(plan.undo).toEqual([{ step: 'validate_user', action: 'refund 200.00 to user-1', refund: '200.00', movement: '3' }]);
  });
});

test('a saga in flight with no lease that moved recently is busy, and no owner is named', () => {
  const plan = planFor('tx-1', facts({ status: 'pending' }), { movements: [], unexplained: [] }, { includeCompleted: false, stuck: false });
  expect(plan.refusal).toBe('busy: in flight, and it moved recently');
  const leased = planFor('tx-1', facts({ leaseOwner: 'host:12:ab' }), { movements: [], unexplained: [] }, { includeCompleted: false, stuck: false });
  expect(leased.refusal).toBe('busy: in flight, leased to host:12:ab, and it moved recently');
});

test('movements nobody explained are named with who made them, from which program and transaction; an unknown role shows as ?', () => {
  const f = facts({ status: 'completed', committed: ['validate_user'] });
  const e: Evidence = { movements: [debit('7')],
    unexplained: [outside('9', '200.00'), outside('10', '-5', { account: 'item', accountId: 'item-1', who: undefined, application: 'psql', xact: '77' })] };
  const plan = planFor('tx-1', f, e, { includeCompleted: true, stuck: false });
  expect(plan.refusal).toMatch(/^the ledger shows movements nobody explained on user-1 or item-1 since this saga began/);
  expect(plan.facts).toEqual([
    'ledger #9: user user-1 +200.00 at 2025-03-01T10:00:01 by app_user (billing-service, transaction 9001)',
    'ledger #10: item item-1 -5 at 2025-03-01T10:00:01 by ? (psql, transaction 77)',
  ]);
  expect(contradictions(f, e)).toEqual(plan.facts.map((x) => `unexplained ${x}`));
});
