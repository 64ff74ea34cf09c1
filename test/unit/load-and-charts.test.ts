import { bars, sparkline } from '../../src/cli/charts';
import { createOutput } from '../../src/cli/output';
import { histogram, percentile, prng, summarise } from '../../src/saga/load';
import { EventBus } from '../../src/saga/event-bus';
import { parsePurchase, parseLease } from '../../src/saga/validate';
import { Evidence, Movement, planFor } from '../../src/operator/plan';
import { localPid } from '../../src/saga/stuck';
import { actionFor } from '../../src/operator/recover';
import { compensationStatement, forwardStatement, messageOf } from '../../src/saga/statements';
import { SEND_NOTIFICATION, VALIDATE_USER } from '../../src/saga/steps';
import { statement, valuesFor } from '../../src/db/sql';
import { centsToText, sameAmount, toCents } from '../../src/money';
import type { SagaFacts } from '../../src/saga/facts';

test('percentiles and the latency summary', () => {
  const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
  expect(percentile(sorted, 50)).toBe(50);
  expect(percentile(sorted, 99)).toBe(99);
  expect(percentile([], 50)).toBe(0);
  expect(summarise([3, 1, 2])).toEqual({ p50: 2, p95: 3, p99: 3, max: 3 });
});

test('the histogram doubles its buckets and trims empty ends; huge values land in the last', () => {
  expect(histogram([0.4, 0.9, 1.5, 3])).toEqual([
    { upToMs: 0.5, count: 1 }, { upToMs: 1, count: 1 }, { upToMs: 2, count: 1 }, { upToMs: 4, count: 1 }]);
  expect(histogram([])).toEqual([]);
  expect(histogram([10 ** 9]).at(-1)?.count).toBe(1);
});

test('the seeded PRNG repeats itself for the same seed', () => {
  const a = prng(42);
  const b = prng(42);
  const xs = Array.from({ length: 5 }, () => a());
  expect(xs).toEqual(Array.from({ length: 5 }, () => b()));
  expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  expect(prng(43)()).not.toBe(xs[0]);
});

test('charts draw proportional bars and a sparkline', () => {
  expect(bars([{ label: 'a', value: 2 }, { label: 'bb', value: 4 }], 4)).toEqual([' a │██ 2', 'bb │████ 4']);
  expect(sparkline([0, 4, 8])).toBe('▁▄█');
});

test('NO_COLOR turns colour off, even on a terminal', () => {
  const io = { stdout: { write: () => true }, stderr: { write: () => true }, env: { NO_COLOR: '1' }, cwd: '/',
    stdinIsTTY: false, stdoutIsTTY: true, stderrIsTTY: true };
  expect(createOutput(io, {}).color.red('x')).toBe('x');
  expect(createOutput({ ...io, env: {} }, {}).color.red('x')).not.toBe('x');
});

test('the event bus delivers to the one handler of a type and refuses a second', async () => {
  const bus = new EventBus<string>();
  bus.subscribe('a.run', async (e) => `got ${e.id}`);
  expect(await bus.publish({ id: '1', type: 'a.run', transactionId: 't' })).toBe('got 1');
  expect(await bus.publish({ id: '2', type: 'nobody', transactionId: 't' })).toBeUndefined();
  expect(() => bus.subscribe('a.run', async () => 'x')).toThrow(/exists already/);
});

test('purchase requests are validated before anything runs', () => {
  expect(parsePurchase({ user: 'u-1', item: 'i-1' })).toEqual({ userId: 'u-1', itemId: 'i-1', quantity: 1, mode: 'orchestration', transactionId: undefined, failAt: undefined });
  expect(() => parsePurchase({ user: 'u', item: 'i', qty: '10001' })).toThrow(/--qty/);
  expect(() => parseLease('500ms')).toThrow(/--lease/);
  expect(parseLease('2m')).toBe(120_000);
});

test('statements: notification never compensates; only steps with an undo have a compensation statement', () => {
  expect(forwardStatement(SEND_NOTIFICATION).text).toContain("'completed'");
  expect(() => compensationStatement(SEND_NOTIFICATION)).toThrow(/no compensation/);
  expect(compensationStatement(VALIDATE_USER).text).toContain("'compensated'");
  expect(messageOf('code')).toContain("WHEN 'INSUFFICIENT_STOCK' THEN 'Insufficient stock'");
});

test('named parameters: one number per name, casts and quoted formats untouched, a missing or unknown name is a bug', () => {
  const s = statement('t', `SELECT :a::int, :b, :a, 'HH24:MI:SS', x::text FROM t WHERE y = :b_c`);
  expect(s.text).toBe(`SELECT $1::int, $2, $1, 'HH24:MI:SS', x::text FROM t WHERE y = $3`);
  expect(valuesFor(s, { a: 1, b: 2, b_c: 3 })).toEqual([1, 2, 3]);
  expect(() => valuesFor(s, { a: 1, b: 2 })).toThrow(/:b_c not given/);
  expect(() => valuesFor(s, { a: 1, b: 2, b_c: 3, d: 4 })).toThrow(/no parameter :d/);
});

describe('operator decisions', () => {
  const facts = { transactionId: 't', status: 'in_progress', errorCode: null, mode: 'orchestration', userId: 'u', itemId: 'i', quantity: 2,
    total: '40.00', createdAt: new Date(0), leaseOwner: 'elsewhere:1:r', leaseExpired: true,
    committed: ['validate_user', 'reserve_inventory'], compensated: [], pendingEvents: [] } as unknown as SagaFacts;
  const move = (id: string, step: string | null, kind: string | null, account: 'user' | 'item', accountId: string, delta: string): Movement =>
    ({ id, step, kind, account, accountId, delta, at: '2026-01-01T00:00:00Z' } as Movement);
  const evidence: Evidence = { movements: [move('1', 'validate_user', 'forward', 'user', 'u', '-40.00'),
    move('2', 'reserve_inventory', 'forward', 'item', 'i', '-2.00')], unexplained: [] };
  const opts = { includeCompleted: false, stuck: true };

  test('a plan undoes the committed steps newest first, with exact amounts and their ledger movements', () => {
    const plan = planFor('t', facts, evidence, opts);
    expect(plan.undo.map((u) => [u.action, u.movement])).toEqual([['restock 2 i', '2'], ['refund 40.00 to u', '1']]);
    expect(planFor('t', undefined, undefined, opts)).toMatchObject({ found: false, refusal: 'not found' });
    expect(planFor('t', { ...facts, status: 'completed' }, evidence, opts).refusal).toMatch(/include-completed/);
    expect(planFor('t', facts, evidence, { ...opts, stuck: false }).refusal).toMatch(/busy/);
    expect(planFor('t', { ...facts, status: 'failed', committed: [] }, { movements: [], unexplained: [] }, opts).refusal).toMatch(/nothing to undo/);
  });

  test('records and ledger that disagree are refused with the facts: a debit with no record, a record with no debit, a wrong amount', () => {
    const noRecord = planFor('t', { ...facts, committed: ['reserve_inventory'] }, evidence, opts);
    expect(noRecord.refusal).toMatch(/disagree/);
    expect(noRecord.facts.join()).toMatch(/ledger #1.*no step record/);
    const noMovement = planFor('t', facts, { ...evidence, movements: [evidence.movements[1]] }, opts);
    expect(noMovement.facts.join()).toMatch(/validate_user forward is recorded, but the ledger shows no movement/);
    const wrong = planFor('t', facts, { ...evidence, movements: [move('1', 'validate_user', 'forward', 'user', 'u', '-4.00'), evidence.movements[1]] }, opts);
    expect(wrong.facts.join()).toMatch(/should move user u by -40.00/);
    const refunded = planFor('t', { ...facts, compensated: [] }, { ...evidence,
      movements: [...evidence.movements, move('3', 'validate_user', 'compensation', 'user', 'u', '40.00')] }, opts);
    expect(refunded.facts.join()).toMatch(/validate_user compensation, but no step record/);
  });

  test('a movement nobody explained on the saga\'s user or item refuses it', () => {
    const plan = planFor('t', facts, { ...evidence, unexplained: [move('9', null, null, 'user', 'u', '40.00')] }, opts);
    expect(plan.refusal).toMatch(/nobody explained/);
    expect(plan.facts).toEqual([expect.stringMatching(/ledger #9: user u \+40.00/)]);
  });

  test('--undo is accepted only for exactly one unattributed movement of the exact amount that nothing took back', () => {
    const design = { ...facts, committed: [] } as SagaFacts; // the design's debit: no record, no attribution
    const debit = move('7', null, null, 'user', 'u', '-40.00');
    const ok = planFor('t', design, { movements: [], unexplained: [debit] }, { ...opts, override: 'validate_user' });
    expect(ok.refusal).toBeUndefined();
    expect(ok.repair).toEqual({ step: 'validate_user', movement: '7', writeRecord: true });
    expect(ok.undo.map((u) => u.action)).toEqual(['refund 40.00 to u']);
    const refundedAlready = planFor('t', design, { movements: [], unexplained: [debit, move('8', null, null, 'user', 'u', '40.00')] },
      { ...opts, override: 'validate_user' });
    expect(refundedAlready.refusal).toMatch(/taken back already/);
    expect(planFor('t', design, { movements: [], unexplained: [] }, { ...opts, override: 'validate_user' }).refusal).toMatch(/no unattributed movement/);
    expect(planFor('t', design, { movements: [], unexplained: [debit] }, { ...opts, override: 'log_transaction' }).refusal).toMatch(/moves no money/);
  });

  test('owners on this host are read from host:pid:run', () => {
    expect(localPid(`myhost:123:abc`, 'myhost')).toBe(123);
    expect(localPid(`other:123:abc`, 'myhost')).toBeUndefined();
    expect(localPid(null)).toBeUndefined();
    expect(localPid('garbage')).toBeUndefined();
  });

  test('recover compensates what was compensating, whatever the strategy', () => {
    expect(actionFor({ status: 'compensating', mode: 'orchestration' }, 'resume')).toBe('continue compensating');
    expect(actionFor({ status: 'in_progress', mode: 'orchestration' }, 'compensate')).toBe('compensate');
    expect(actionFor({ status: 'in_progress', mode: 'choreography' })).toMatch(/redeliver/);
    expect(actionFor({ status: 'pending', mode: 'orchestration' })).toMatch(/mark failed/);
  });
});

test('money: amounts as whole cents, never a float', () => {
  expect(toCents('-100.00')).toBe(-10000n);
  expect(toCents('0.5')).toBe(50n);
  expect(toCents(20)).toBe(2000n);
  expect(centsToText(-5n)).toBe('-0.05');
  expect(sameAmount('100', '100.00')).toBe(true);
  expect(() => toCents('1e3')).toThrow(/not an amount/);
});
