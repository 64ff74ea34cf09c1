import { createTestDb, TestDb } from '../support/database';
import { runMain } from '../support/cli';
import { balanceOf, runnerOn, stockOf } from '../support/saga';
import { loadFixtures } from '../../src/seed/fixtures';
import { Engine } from '../../src/saga/engine';

let t: TestDb;
let env: Record<string, string>;
beforeAll(async () => {
  t = await createTestDb();
  env = { DATABASE_URL: t.url };
});
afterAll(async () => { await t.drop(); });
beforeEach(async () => {
  await t.db.query('TRUNCATE saga_events, saga_step_results, notifications, transaction_logs, saga_states, operator_audit, saga_stats_dirty, ledger');
  await loadFixtures(t.db, { reset: true });
  await t.db.query('TRUNCATE ledger');
  await t.db.query(`INSERT INTO ledger (at, xact, db_user, application, account, account_id, delta, source)
    SELECT now(), 0, 'test', 'test', 'user', user_id, balance, 'opening' FROM users
    UNION ALL SELECT now(), 0, 'test', 'test', 'item', item_id, stock, 'opening' FROM items`);
});

const cli = (...argv: string[]) => runMain(argv, env);
const json = async (...argv: string[]) => {
  const r = await cli(...argv, '--json');
  return { ...r, out: r.stdout ? JSON.parse(r.stdout) : undefined };
};
const audit = () => t.db.query(`SELECT action, transaction_id, outcome FROM operator_audit ORDER BY id`);
const jsonError = (stderr: string) => JSON.parse(stderr.trimEnd().split('\n').pop()!).error;
const notification = async (id: string) =>
  (await t.db.query(`SELECT status, attempts, sent_at IS NOT NULL AS sent FROM notifications WHERE transaction_id = $1`, [id]))[0];

async function dbCheckPasses(): Promise<void> {
  const r = await cli('db', 'check', '--older-than', '1h', '--json');
  expect(JSON.parse(r.stdout).checks.filter((c: { ok: boolean }) => !c.ok)).toEqual([]);
}

/** A completed purchase whose notification failed after its retries. */
async function notificationFailed(): Promise<string> {
  const r = await runnerOn(t.db).run({ userId: 'user-123', itemId: 'item-sword', quantity: 1, mode: 'orchestration', failAt: 'send_notification' });
  expect(r.status).toBe('completed');
  return r.transactionId;
}

/** A saga whose refund could not be applied (the drill of saga compensate --fail-at). */
async function compensationFailed(id: string): Promise<void> {
  await abandoned(id);
  const r = await cli('saga', 'compensate', id, '--fail-at', 'validate_user', '--reason', 'drill', '--yes');
  expect(r.code).toBe(5);
}

async function abandoned(id: string): Promise<void> {
  const engine = new Engine({ db: t.db, owner: 'elsewhere:1:gone', leaseMs: 30_000, lockTimeoutMs: 5000, grouping: false });
  await engine.start({ id, mode: 'orchestration', userId: 'user-123', itemId: 'item-sword', quantity: 2, inject: false });
  await engine.forward('reserve_inventory', { id, mode: 'orchestration', inject: false, eventId: null });
  await t.db.query(`UPDATE saga_states SET lease_expires_at = now() - interval '9 minutes', updated_at = updated_at - interval '10 minutes' WHERE transaction_id = $1`, [id]);
  await t.db.query(`UPDATE saga_step_results SET executed_at = executed_at - interval '10 minutes' WHERE transaction_id = $1`, [id]);
}

test('a failed notification is re-sent: the row says so (sent, attempts 2, sent_at), audited as resent; twice: nothing to redrive, exit 3', async () => {
  const id = await notificationFailed();
  expect(await notification(id)).toEqual({ status: 'failed', attempts: 1, sent: false });
  const r = await json('saga', 'retry', id, '--reason', 'INC-12: SMTP back', '--yes');
  expect(r.code).toBe(0);
  expect(r.out.results).toEqual([{ transactionId: id, before: 'completed', action: 'resend', outcome: 'resent', detail: 'notification sent (attempt 2)' }]);
  expect(await notification(id)).toEqual({ status: 'sent', attempts: 2, sent: true });
  expect(await audit()).toEqual([{ action: 'retry', transaction_id: id, outcome: 'resent' }]);
  const again = await json('saga', 'retry', id, '--reason', 'again', '--yes');
  expect(again.code).toBe(3);
  expect(jsonError(again.stderr).message).toContain(`${id}: completed, and its notification was sent: nothing to redrive`);
  expect(await notification(id)).toEqual({ status: 'sent', attempts: 2, sent: true });
  await dbCheckPasses();
});

test('a compensation_failed saga re-attempts its failed undo, verified, audited as retry', async () => {
  await compensationFailed('cf-1');
  expect(await balanceOf(t.db, 'user-123')).toBe('800.00');
  const r = await json('saga', 'retry', 'cf-1', '--reason', 'INC-13: user service fixed', '--yes');
  expect(r.code).toBe(0);
  expect(r.out.results[0]).toMatchObject({ transactionId: 'cf-1', before: 'compensation_failed', action: 'undo', outcome: 'compensated' });
  expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
  expect(await stockOf(t.db, 'item-sword')).toBe(50);
  expect((await audit()).slice(-1)).toEqual([{ action: 'retry', transaction_id: 'cf-1', outcome: 'compensated' }]);
  await dbCheckPasses();
});

test('a stuck saga resumes from its last committed step', async () => {
  await abandoned('st-1');
  const r = await json('saga', 'retry', 'st-1', '--reason', 'INC-14', '--yes');
  expect(r.code).toBe(0);
  expect(r.out.results[0]).toMatchObject({ action: 'resume', before: 'in_progress', outcome: 'completed' });
  expect((await t.db.query(`SELECT status FROM saga_states WHERE transaction_id = 'st-1'`))[0].status).toBe('completed');
  expect((await audit()).map((a) => [a.action, a.outcome])).toEqual([['retry', 'claimed'], ['retry', 'completed']]);
  await dbCheckPasses();
});

test('nothing to redrive: exit 3 with the reason per saga, nothing changed', async () => {
  const done = (await runnerOn(t.db).run({ userId: 'user-123', itemId: 'item-sword', quantity: 1, mode: 'orchestration' })).transactionId;
  const failed = (await runnerOn(t.db).run({ userId: 'user-456', itemId: 'item-sword', quantity: 1, mode: 'orchestration' })).transactionId;
  const r = await json('saga', 'retry', done, failed, 'no-such', '--reason', 'r', '--yes');
  expect(r.code).toBe(3);
  expect(r.out.results.map((x: { outcome: string; detail: string }) => [x.outcome, x.detail])).toEqual([
    ['refused', 'completed, and its notification was sent: nothing to redrive'], ['refused', 'failed: final, nothing to redrive'], ['not_found', 'no such saga']]);
  const byFilter = await cli('saga', 'retry', '--status', 'completed,failed', '--reason', 'r', '--yes');
  expect(byFilter.code).toBe(3);
  expect(byFilter.stdout).toContain('1 completed: its notification was sent: nothing to redrive');
  expect(await balanceOf(t.db, 'user-123')).toBe('900.00');
});

test('by FILTERS: --what-if changes nothing and shows the notification re-sent; the real run redrives every kind, one bulk_retry row', async () => {
  const ntf = await notificationFailed();
  await compensationFailed('cf-2');
  await abandoned('st-2');
  const w = await json('saga', 'retry', '--user', 'user-123', '--what-if');
  expect(w.code).toBe(0);
  expect(w.out.changes.notifications).toEqual([{ notificationId: `ntf-${ntf}`, before: { status: 'failed', attempts: 1 }, after: { status: 'sent', attempts: 2 } },
    // The stuck saga, resumed, sends its own for the first time.
    { notificationId: 'ntf-st-2', before: null, after: { status: 'sent', attempts: 1 } }]);
  expect(await notification(ntf)).toEqual({ status: 'failed', attempts: 1, sent: false });
  const r = await json('saga', 'retry', '--user', 'user-123', '--batch', '1', '--reason', 'INC-15', '--yes');
  expect(r.code).toBe(0);
  expect(r.out.counts).toEqual({ resent: 1, compensated: 1, completed: 1 });
  expect(w.out.counts).toEqual(r.out.counts);
  expect((await audit()).filter((a) => a.action === 'bulk_retry')).toEqual([{ action: 'bulk_retry', transaction_id: null, outcome: 'done' }]);
  await dbCheckPasses();
});

test('by ids, --what-if shows each redrive and changes nothing; FILTERS that match nothing: exit 3, "no saga matches"', async () => {
  const id = await notificationFailed();
  const w = await cli('saga', 'retry', id, 'no-such', '--what-if');
  expect(w.code).toBe(0);
  expect(w.stdout).toMatch(new RegExp(`${id} +completed +resend +resent +notification sent \\(attempt 2\\)`));
  expect(w.stdout).toMatch(/no-such +- +\S+ +not_found +no such saga/);
  expect(w.stdout).toContain(`notification ntf-${id}: failed -> sent (attempts 2)`);
  expect(w.stdout).toContain('What if (rolled back, nothing changed):');
  expect(await notification(id)).toEqual({ status: 'failed', attempts: 1, sent: false });
  expect(await audit()).toEqual([]);
  const none = await json('saga', 'retry', '--user', 'user-999', '--reason', 'r', '--yes');
  expect(none.code).toBe(3);
  expect(jsonError(none.stderr).message).toBe('nothing to redrive: no saga matches');
  expect(none.out).toMatchObject({ bulk: { sagas: 0 }, results: [] });
});
