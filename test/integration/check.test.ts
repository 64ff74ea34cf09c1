import { createTestDb, TestDb } from '../support/database';
import { runMain } from '../support/cli';
import { runnerOn } from '../support/saga';
import { loadFixtures } from '../../src/seed/fixtures';
import { runChecks, CheckReport } from '../../src/health/check';
import { INVARIANTS } from '../../src/health/invariants';
import { CHOREOGRAPHY_INVARIANTS } from '../../src/health/choreography';
import { PurchaseRequest } from '../../src/saga/types';

let t: TestDb;
beforeAll(async () => {
  t = await createTestDb();
  await loadFixtures(t.db);
});
afterAll(async () => { await t.drop(); });

const cli = (...argv: string[]) => runMain(argv, { DATABASE_URL: t.url });
const buy = (transactionId: string, extra: Partial<PurchaseRequest> = {}) =>
  runnerOn(t.db).run({ userId: 'user-123', itemId: 'item-potion', quantity: 1, mode: 'orchestration', transactionId, ...extra });
const byName = (r: CheckReport, name: string) => r.checks.find((c) => c.name === name)!;
const failing = (r: CheckReport) => r.checks.filter((c) => !c.ok).map((c) => c.name);
const DEFAULT = { olderThanMs: 600_000 };

test('every outcome of a healthy run passes every check: exit 0', async () => {
  await buy('ok-completed');
  await buy('ok-compensated', { itemId: 'item-out-of-stock' });
  await buy('ok-compensated-late', { failAt: 'log_transaction' });
  await buy('ok-notification-failed', { failAt: 'send_notification' });
  await buy('ok-failed', { userId: 'user-suspended' });
  await buy('ok-choreography', { mode: 'choreography', failAt: 'reserve_inventory' });
  const r = await runChecks(t.db, DEFAULT);
  expect(failing(r)).toEqual([]);
  expect(r.ok).toBe(true);
  expect(r.checks.map((c) => c.name)).toEqual(INVARIANTS.map((i) => i.name));
  const human = await cli('db', 'check');
  expect(human.code).toBe(0);
  expect(human.stdout).toContain(`all ${INVARIANTS.length} checks pass`);
});

test('each broken invariant is found, counted in full, sampled by id; exit 6', async () => {
  // The constraints that forbid some of these are dropped in this test's own database.
  await t.db.query('ALTER TABLE users DROP CONSTRAINT users_balance_non_negative');
  await t.db.query('ALTER TABLE items DROP CONSTRAINT items_stock_non_negative');
  for (let i = 0; i < 12; i++) {
    await t.db.query(`INSERT INTO users (user_id, name, balance) VALUES ($1, 'overdrawn', -0.01)`, [`neg-${String(i).padStart(2, '0')}`]);
  }
  await t.db.query(`UPDATE items SET stock = -1 WHERE item_id = 'item-disabled'`);

  await buy('bad-no-notification');
  await t.db.query(`DELETE FROM saga_step_results WHERE transaction_id = 'bad-no-notification' AND step = 'send_notification'`);
  await buy('bad-no-log');
  await t.db.query(`DELETE FROM transaction_logs WHERE transaction_id = 'bad-no-log'`);
  await buy('bad-no-refund', { itemId: 'item-out-of-stock' });
  await t.db.query(`DELETE FROM saga_step_results WHERE transaction_id = 'bad-no-refund' AND kind = 'compensation'`);
  await buy('bad-refund-short', { itemId: 'item-out-of-stock' });
  await t.db.query(`UPDATE saga_step_results SET data = jsonb_set(data, '{refunded}', '"499.99"')
                     WHERE transaction_id = 'bad-refund-short' AND kind = 'compensation'`);
  // "500.0" and "500.00" are the same money: compared as numeric, never as text or a float.
  await buy('ok-refund-spelled-differently', { itemId: 'item-out-of-stock' });
  await t.db.query(`UPDATE saga_step_results SET data = jsonb_set(data, '{refunded}', '"500.0"')
                     WHERE transaction_id = 'ok-refund-spelled-differently' AND kind = 'compensation'`);
  await buy('bad-twice');
  await buy('bad-refunded-twice', { itemId: 'item-out-of-stock' });
  await t.db.query('ALTER TABLE saga_step_results DROP CONSTRAINT saga_step_results_once');
  await t.db.query(`INSERT INTO saga_step_results (transaction_id, step, status, kind)
                    VALUES ('bad-twice', 'reserve_inventory', 'succeeded', 'forward')`);
  await t.db.query(`INSERT INTO saga_states (transaction_id, status, user_id, item_id, quantity, price, mode, updated_at)
                    VALUES ('bad-stuck', 'in_progress', 'user-123', 'item-potion', 1, 20.00, 'orchestration', now() - interval '1 hour'),
                           ('ok-recent', 'in_progress', 'user-123', 'item-potion', 1, 20.00, 'orchestration', now()),
                           ('ok-leased', 'in_progress', 'user-123', 'item-potion', 1, 20.00, 'orchestration', now() - interval '1 hour')`);
  await t.db.query(`UPDATE saga_states SET lease_owner = 'elsewhere:1:x', lease_expires_at = now() + interval '1 minute'
                     WHERE transaction_id = 'ok-leased'`);
  // The ledger: a balance changed with its trigger off (a superuser's bypass) no longer reconciles;
  await t.db.query('ALTER TABLE users DISABLE TRIGGER ledger_users_update');
  await t.db.query(`UPDATE users SET balance = balance + 7 WHERE user_id = 'user-456'`);
  await t.db.query('ALTER TABLE users ENABLE TRIGGER ledger_users_update');
  // a writer that said nothing moved stock;
  await t.db.query(`UPDATE items SET stock = stock + 3 WHERE item_id = 'item-potion'`);
  // and a second refund, claimed for a compensated saga by a writer of its own: back more than paid.
  await t.db.withTransaction(async (tx) => {
    await tx.query(`SELECT set_config('sagactl.ledger', '[{"saga": "bad-refunded-twice", "step": "validate_user", "kind": "compensation"}]', true)`);
    await tx.query(`UPDATE users SET balance = balance + 500 WHERE user_id = 'user-123'`);
  });

  const r = await runChecks(t.db, DEFAULT);
  expect(r.ok).toBe(false);
  // The choreography audit's broken states have their own test (choreography-audit.test.ts).
  const notOutbox = INVARIANTS.filter((i) => !CHOREOGRAPHY_INVARIANTS.includes(i));
  expect(failing(r)).toEqual(notOutbox.map((i) => i.name));
  const balance = byName(r, 'no_negative_balance');
  expect(balance.count).toBe(12);
  expect(balance.sample.map((s) => s.id)).toEqual(Array.from({ length: 10 }, (_, i) => `neg-${String(i).padStart(2, '0')}`));
  expect(balance.sample[0]).toEqual({ id: 'neg-00', balance: '-0.01' });
  expect(byName(r, 'no_negative_stock').sample).toEqual([{ id: 'item-disabled', stock: -1 }]);
  expect(byName(r, 'completed_sagas_have_every_step').sample).toEqual([
    { id: 'bad-no-log', stepsMissing: [], logMissing: true },
    { id: 'bad-no-notification', stepsMissing: ['send_notification'], logMissing: false },
  ]);
  expect(byName(r, 'undone_sagas_undid_every_step').sample).toEqual([{ id: 'bad-no-refund', status: 'compensated', notUndone: ['validate_user'] }]);
  expect(byName(r, 'refunds_match_debits').sample).toEqual([{ id: 'bad-refund-short', debited: '500.00', refunded: '499.99' }]);
  expect(byName(r, 'steps_recorded_once').sample).toEqual([{ id: 'bad-twice:reserve_inventory:forward', times: 2 }]);
  const stuck = byName(r, 'no_stuck_sagas');
  expect(stuck.sample.map((s) => s.id)).toEqual(['bad-stuck']);
  expect(stuck.sample[0]).toMatchObject({ status: 'in_progress', leaseOwner: null });

  expect(byName(r, 'ledger_reconciles').sample).toEqual([{ id: 'user:user-456', actual: '57.00', ledger: '50.00', difference: '7.00' }]);
  expect(byName(r, 'movements_explained').sample).toEqual(expect.arrayContaining([
    expect.objectContaining({ account: 'item', accountId: 'item-potion', delta: '3.00', application: 'sagactl-test' })]));
  expect(byName(r, 'steps_have_movements').sample).toEqual([
    { id: 'bad-refunded-twice:validate_user:compensation', expected: '500.00', found: 'user user-123 500.00, user user-123 500.00' }]);
  expect(byName(r, 'movements_have_steps').sample).toEqual([
    expect.objectContaining({ transactionId: 'bad-no-refund', step: 'validate_user', kind: 'compensation', delta: '500.00' })]);
  expect(byName(r, 'no_saga_refunded_more_than_charged').sample).toEqual([
    { id: 'bad-refunded-twice:user', taken: '-500.00', returned: '1000.00' }]);

  // Stuck is relative to --older-than.
  expect(byName(await runChecks(t.db, { olderThanMs: 2 * 3_600_000 }), 'no_stuck_sagas').ok).toBe(true);

  const json = await cli('db', 'check', '--json');
  expect(json.code).toBe(6);
  const out = JSON.parse(json.stdout);
  expect(out.ok).toBe(false);
  expect(out.checks[0]).toEqual({ name: 'no_negative_balance', description: expect.any(String), ok: false, count: 12,
    sample: expect.arrayContaining([{ id: 'neg-00', balance: '-0.01' }]) });
  const human = await cli('db', 'check', '--older-than', '3h');
  expect(human.code).toBe(6);
  expect(human.stdout).toMatch(/^no_negative_balance +FAIL +12 +neg-00, neg-01, .*neg-09, … 2 more$/m);
  expect(human.stdout).toMatch(/^no_stuck_sagas +pass +0$/m);
  expect(human.stdout).toContain(`${notOutbox.length - 1} of ${INVARIANTS.length} checks fail`);
  // The old flag name still works.
  expect((await cli('db', 'check', '--stuck-after', '3h')).stdout).toMatch(/^no_stuck_sagas +pass +0$/m);
});

test('the check runs read-only: even a statement that writes cannot', async () => {
  const writer = { name: 'writes', description: 'x', sql: `INSERT INTO users (user_id, name) VALUES ('sneaky', 'x') RETURNING user_id AS id`, params: () => [] };
  await expect(runChecks(t.db, DEFAULT, [writer])).rejects.toThrow(/read-only transaction/);
  expect(await t.db.query(`SELECT 1 FROM users WHERE user_id = 'sneaky'`)).toEqual([]);
});
