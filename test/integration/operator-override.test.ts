import { createTestDb, TestDb } from '../support/database';
import { runMain } from '../support/cli';
import { balanceOf, stockOf } from '../support/saga';
import { loadFixtures } from '../../src/seed/fixtures';
import { Engine } from '../../src/saga/engine';

// The operator's tools on sagas a writer outside the library left half recorded (`--undo STEP`),
// undos that cannot be applied, and what `saga stuck`, `saga compensate` and `saga recover` print
// for people.

let t: TestDb;
let env: Record<string, string>;
beforeAll(async () => {
  t = await createTestDb();
  env = { DATABASE_URL: t.url, COLUMNS: '400' };
});
afterAll(async () => { await t.drop(); });
beforeEach(async () => {
  await t.db.query('TRUNCATE saga_events, saga_step_results, notifications, transaction_logs, saga_states, operator_audit, saga_stats_dirty, ledger');
  await loadFixtures(t.db, { reset: true });
});

const cli = (...argv: string[]) => runMain(argv, env);
const json = async (...argv: string[]) => {
  const r = await cli(...argv, '--json');
  return { code: r.code, out: JSON.parse(r.stdout), stderr: r.stderr };
};
const audit = () => t.db.query('SELECT action, transaction_id, outcome, details FROM operator_audit ORDER BY id');
const steps = async (id: string) => (await t.db.query(
  `SELECT step, kind, status, data FROM saga_step_results WHERE transaction_id = $1 ORDER BY id`, [id]));

/** Ages a saga and everything it wrote by ten minutes, as if it was left then. */
async function age(id: string) {
  await t.db.query(`UPDATE saga_states SET lease_expires_at = CASE WHEN lease_owner IS NULL THEN NULL ELSE now() - interval '9 minutes' END,
                           created_at = created_at - interval '10 minutes', updated_at = updated_at - interval '10 minutes'
                     WHERE transaction_id = $1`, [id]);
  await t.db.query(`UPDATE saga_step_results SET executed_at = executed_at - interval '10 minutes' WHERE transaction_id = $1`, [id]);
  await t.db.query(`UPDATE ledger SET at = at - interval '10 minutes'`);
}

/** A saga a process on another host took through `steps` forward steps, then left. */
async function abandoned(id: string, steps: 1 | 2, opts: { failReserve?: boolean } = {}) {
  const engine = new Engine({ db: t.db, owner: 'elsewhere:1:gone', leaseMs: 30_000, lockTimeoutMs: 5000, grouping: false });
  await engine.start({ id, mode: 'orchestration', userId: 'user-123', itemId: 'item-sword', quantity: 2, inject: false });
  if (steps === 2) await engine.forward('reserve_inventory', { id, mode: 'orchestration', inject: Boolean(opts.failReserve), eventId: null });
  await age(id);
}

describe('--undo STEP on a saga whose effect a writer outside the library made', () => {
  test('a stock decrement with no record: attributed to the step, its record written from it, and both undos applied exactly', async () => {
    await abandoned('ov-stock', 1);
    // The old stock service took the two swords, then died before anything recorded it.
    await t.db.query(`UPDATE items SET stock = stock - 2 WHERE item_id = 'item-sword'`);
    const refused = await json('saga', 'compensate', 'ov-stock', '--reason', 'INC-3', '--yes');
    expect(refused.code).toBe(3);
    expect(refused.out.results[0].detail).toMatch(/movements nobody explained on user-123 or item-sword/);
    expect([await balanceOf(t.db, 'user-123'), await stockOf(t.db, 'item-sword')]).toEqual(['800.00', 48]);

    const fixed = await json('saga', 'compensate', 'ov-stock', '--undo', 'reserve_inventory', '--reason', 'INC-3: decrement checked by hand', '--yes');
    expect(fixed.code).toBe(0);
    expect(fixed.out.results[0]).toMatchObject({ outcome: 'compensated', verified: true });
    expect(fixed.out.results[0].undo.map((u: { action: string }) => u.action)).toEqual(['restock 2 item-sword', 'refund 200.00 to user-123']);
    expect([await balanceOf(t.db, 'user-123'), await stockOf(t.db, 'item-sword')]).toEqual(['1000.00', 50]);
    const reserve = (await steps('ov-stock')).find((s) => s.step === 'reserve_inventory' && s.kind === 'forward');
    expect(reserve).toMatchObject({ status: 'succeeded', data: { quantity: 2, by: 'operator override', restoredFrom: expect.stringMatching(/^ledger #\d+$/) } });
    expect((await t.db.query(`SELECT count(*)::int AS n FROM ledger WHERE source = 'unattributed'`))[0].n).toBe(0);
    expect((await audit()).map((a) => a.outcome)).toEqual(['refused', 'compensated']);
  });

  test('a debit recorded by the service but written past the ledger\'s claims: the movement is attributed (no record to write) and refunded once', async () => {
    // The design's service: the saga row, its debit and its step record, each its own statement.
    await t.db.query(`INSERT INTO saga_states (transaction_id, status, user_id, item_id, quantity, price, mode)
                      VALUES ('ov-debit', 'in_progress', 'user-123', 'item-sword', 1, 100.00, 'orchestration')`);
    await t.db.query(`UPDATE users SET balance = balance - 100 WHERE user_id = 'user-123'`);
    await t.db.query(`INSERT INTO saga_step_results (transaction_id, step, kind, status, data) VALUES ('ov-debit', 'validate_user', 'forward', 'succeeded', '{}')`);
    await age('ov-debit');
    const plan = await json('saga', 'compensate', 'ov-debit', '--undo', 'validate_user', '--dry-run');
    expect(plan.code).toBe(0);
    expect(plan.out.plans[0]).toMatchObject({ repair: { step: 'validate_user', writeRecord: false }, undo: [{ action: 'refund 100.00 to user-123' }] });
    const fixed = await json('saga', 'compensate', 'ov-debit', '--undo', 'validate_user', '--reason', 'INC-4', '--yes');
    expect(fixed.out.results[0]).toMatchObject({ outcome: 'compensated', verified: true });
    expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
    // The record the service wrote is kept as it was: no second one.
    expect((await steps('ov-debit')).map((s) => `${s.step}:${s.kind}`)).toEqual(['validate_user:forward', 'validate_user:compensation']);
    const again = await json('saga', 'compensate', 'ov-debit', '--undo', 'validate_user', '--reason', 'twice?', '--yes');
    expect(again.code).toBe(3);
    expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
  });

  test('a step whose record says it failed: the override cannot claim it happened; rolled back whole, refused and audited', async () => {
    await abandoned('ov-failed', 2, { failReserve: true });
    expect((await t.db.query(`SELECT status FROM saga_states WHERE transaction_id = 'ov-failed'`))[0].status).toBe('compensating');
    await t.db.query(`UPDATE items SET stock = stock - 2 WHERE item_id = 'item-sword'`);
    const r = await json('saga', 'compensate', 'ov-failed', '--undo', 'reserve_inventory', '--reason', 'INC-5', '--yes');
    expect(r.code).toBe(3);
    expect(r.out.results[0]).toMatchObject({ outcome: 'refused', verified: null,
      detail: '--undo reserve_inventory: a record of that step exists already (it failed): nothing changed' });
    expect([await balanceOf(t.db, 'user-123'), await stockOf(t.db, 'item-sword')]).toEqual(['800.00', 48]);
    expect((await t.db.query(`SELECT count(*)::int AS n FROM ledger WHERE source = 'unattributed'`))[0].n).toBe(1);
    expect((await steps('ov-failed')).map((s) => `${s.step}:${s.kind}:${s.status}`)).toEqual(['validate_user:forward:succeeded', 'reserve_inventory:forward:failed']);
    expect(await audit()).toEqual([expect.objectContaining({ action: 'compensate', transaction_id: 'ov-failed', outcome: 'refused',
      details: { detail: '--undo reserve_inventory: a record of that step exists already (it failed): nothing changed' } })]);
  });
});

describe('an undo that cannot be applied (the item was deleted)', () => {
  test('compensate: compensation_failed, exit 5, nothing refunded by halves', async () => {
    await abandoned('cf-1', 2);
    await t.db.query(`DELETE FROM items WHERE item_id = 'item-sword'`);
    const r = await json('saga', 'compensate', 'cf-1', '--reason', 'INC-6', '--yes');
    expect(r.code).toBe(5);
    expect(r.out.results[0]).toMatchObject({ outcome: 'compensation_failed', detail: 'the undo of a step could not be applied', verified: false });
    expect(await balanceOf(t.db, 'user-123')).toBe('800.00');
    expect((await t.db.query(`SELECT status, error_code FROM saga_states WHERE transaction_id = 'cf-1'`))[0])
      .toEqual({ status: 'compensation_failed', error_code: 'COMPENSATION_FAILED' });
  });

  test('recover --strategy compensate: exit 5, and the saga waits for an operator', async () => {
    await abandoned('cf-2', 2);
    await t.db.query(`DELETE FROM items WHERE item_id = 'item-sword'`);
    const r = await cli('saga', 'recover', '--strategy', 'compensate', '--yes');
    expect(r.code).toBe(5);
    const again = await json('saga', 'recover', '--strategy', 'compensate', '--yes');
    expect(again.out.results).toEqual([]); // compensation_failed is an operator's call, not recover's
    expect(r.stdout).toMatch(/cf-2 .*compensate .*compensation_failed/);
    expect(await balanceOf(t.db, 'user-123')).toBe('800.00');
    expect((await json('saga', 'stuck')).out.stuck.map((s: { transactionId: string; status: string }) => [s.transactionId, s.status]))
      .toEqual([['cf-2', 'compensation_failed']]);
  });
});

describe('what people see', () => {
  test('saga stuck: one row each, the count, and a note when --limit cut the list', async () => {
    await abandoned('st-1', 1);
    await abandoned('st-2', 2);
    const all = await cli('saga', 'stuck');
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/st-1 +in_progress/);
    expect(all.stdout).toMatch(/st-2 +in_progress/);
    expect(all.stdout.trimEnd().split('\n').pop()).toBe('2 stuck');
    const cut = await cli('saga', 'stuck', '--limit', '1');
    expect(cut.stdout.trimEnd().split('\n').pop()).toBe('1 stuck (the 1 stalest; raise --limit for more)');
    await t.db.query('TRUNCATE saga_events, saga_step_results, saga_states');
    expect((await cli('saga', 'stuck')).stdout).toBe('no stuck sagas\n');
  });

  test('compensate --stuck with nothing stuck: nothing to do, exit 0, nothing audited', async () => {
    const human = await cli('saga', 'compensate', '--stuck', '--reason', 'sweep', '--yes');
    expect([human.code, human.stdout]).toEqual([0, 'Nothing to compensate.\n']);
    const machine = await json('saga', 'compensate', '--stuck', '--reason', 'sweep', '--yes');
    expect(machine.out).toEqual({ plans: [], results: [] });
    expect(await audit()).toEqual([]);
  });

  test('a --reason past 2000 characters is refused, exit 2, nothing done', async () => {
    await abandoned('long', 2);
    const r = await cli('saga', 'compensate', 'long', '--reason', 'x'.repeat(2001), '--yes');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--reason is longer than 2000 characters.');
    expect(await balanceOf(t.db, 'user-123')).toBe('800.00');
    expect(await audit()).toEqual([]);
  });

  test('recover --dry-run lists what it would do; recover prints each saga, then what was recovered and what refused', async () => {
    await abandoned('rc-ok', 1);
    await abandoned('rc-odd', 2);
    const dry = await cli('saga', 'recover', '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/rc-ok .*resume/);
    expect(dry.stdout.trimEnd().split('\n').pop()).toBe('2 saga(s) would be recovered');
    // Someone changes user-123's balance by hand: what the sagas on that account did can no longer be proven.
    await t.db.query(`UPDATE users SET balance = balance + 5 WHERE user_id = 'user-123'`);
    const r = await cli('saga', 'recover', '--yes');
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/rc-ok .*refused/);
    expect(r.stdout.trimEnd().split('\n').pop())
      .toBe('0 recovered of 2 stuck; 2 refused (records and ledger disagree: see saga compensate --dry-run)');
    expect(await balanceOf(t.db, 'user-123')).toBe('605.00');
  });
});
