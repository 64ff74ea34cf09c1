import { createTestDb, TestDb } from '../support/database';
import { balanceOf, runnerOn, stockOf } from '../support/saga';
import { loadFixtures } from '../../src/seed/fixtures';
import { DEFAULT_LEASE_MS, EngineDeps, runCompensation, runForward, startSaga } from '../../src/saga/engine';
import { RESERVE_INVENTORY, VALIDATE_USER } from '../../src/saga/steps';
import { runLoad } from '../../src/saga/load';

let t: TestDb;
let deps: EngineDeps;
beforeAll(async () => {
  t = await createTestDb();
  deps = { db: t.db, owner: 'test-owner', leaseMs: DEFAULT_LEASE_MS };
});
afterAll(async () => { await t.drop(); });
beforeEach(async () => {
  await t.db.query('TRUNCATE saga_events, saga_step_results, notifications, transaction_logs, saga_states');
  await loadFixtures(t.db, { reset: true });
});

const req = { userId: 'user-123', itemId: 'item-sword', quantity: 1 };

test('a forward step run twice applies once: the second is refused by the unique key', async () => {
  await startSaga(deps, 'tx-twice', 'orchestration', req, false, false);
  const first = await runForward(deps, RESERVE_INVENTORY, 'tx-twice', 'orchestration', false, null, false);
  const second = await runForward(deps, RESERVE_INVENTORY, 'tx-twice', 'orchestration', false, null, false);
  expect(first.duplicate).toBe(false);
  expect(second.duplicate).toBe(true);
  expect(await stockOf(t.db, 'item-sword')).toBe(49);
});

test('the same step run by two drivers at once applies once', async () => {
  await startSaga(deps, 'tx-race', 'orchestration', req, false, false);
  const results = await Promise.all([1, 2, 3, 4].map(() =>
    runForward(deps, RESERVE_INVENTORY, 'tx-race', 'orchestration', false, null, false)));
  expect(results.filter((r) => !r.duplicate && r.code === null)).toHaveLength(1);
  expect(await stockOf(t.db, 'item-sword')).toBe(49);
  const rows = await t.db.query(`SELECT count(*)::int AS n FROM saga_step_results WHERE transaction_id = 'tx-race' AND step = 'reserve_inventory'`);
  expect(rows[0].n).toBe(1);
});

test('a compensation run twice refunds once', async () => {
  await startSaga(deps, 'tx-comp', 'orchestration', { ...req, itemId: 'item-out-of-stock' }, false, false);
  const failed = await runForward(deps, RESERVE_INVENTORY, 'tx-comp', 'orchestration', false, null, false);
  expect(failed.code).toBe('INSUFFICIENT_STOCK');
  expect(await balanceOf(t.db, 'user-123')).toBe('500.00');
  const once = await runCompensation(deps, VALIDATE_USER, 'tx-comp', 'orchestration', false, null, false, false);
  const twice = await runCompensation(deps, VALIDATE_USER, 'tx-comp', 'orchestration', false, null, false, false);
  expect(once.done).toBe(true);
  expect(twice.duplicate).toBe(true);
  expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
});

test('a driver never acts on a saga of the other mode', async () => {
  await startSaga(deps, 'tx-mode', 'orchestration', req, false, false);
  const r = await runForward(deps, RESERVE_INVENTORY, 'tx-mode', 'choreography', false, null, false);
  expect(r.owned).toBe(0);
  expect(await stockOf(t.db, 'item-sword')).toBe(50);
});

test('a saga leased to another live owner is not moved', async () => {
  await startSaga(deps, 'tx-lease', 'orchestration', req, false, false);
  const r = await runForward({ ...deps, owner: 'someone-else' }, RESERVE_INVENTORY, 'tx-lease', 'orchestration', false, null, false);
  expect(r.owned).toBe(0);
  expect(await stockOf(t.db, 'item-sword')).toBe(50);
});

test('a failed compensation leaves compensation_failed', async () => {
  await startSaga(deps, 'tx-cf', 'orchestration', { ...req, itemId: 'item-out-of-stock' }, false, false);
  await runForward(deps, RESERVE_INVENTORY, 'tx-cf', 'orchestration', false, null, false);
  const { compensate } = await import('../../src/saga/orchestrator');
  const status = await compensate(deps, 'tx-cf', [VALIDATE_USER], 'orchestration', 'validate_user');
  expect(status).toBe('compensation_failed');
  const row = await t.db.query(`SELECT status, error_code FROM saga_states WHERE transaction_id = 'tx-cf'`);
  expect(row[0]).toEqual({ status: 'compensation_failed', error_code: 'COMPENSATION_FAILED' });
  expect(await balanceOf(t.db, 'user-123')).toBe('500.00');
});

describe('contention', () => {
  test.each(['orchestration', 'choreography'] as const)(
    '%s: 1,000 purchases at once by a user who can afford 300 complete exactly 300', async (mode) => {
      await t.db.query(`INSERT INTO users (user_id, name, balance) VALUES ('buyer', 'Buyer', 300.00) ON CONFLICT (user_id) DO UPDATE SET balance = 300.00`);
      await t.db.query(`INSERT INTO items (item_id, name, price, stock) VALUES ('thing', 'Thing', 1.00, 100000) ON CONFLICT (item_id) DO UPDATE SET stock = 100000`);
      const r = await runLoad(t.db, runnerOn(t.db), { count: 1000, concurrency: 1000, mode, quantity: 1, seed: 1, userId: 'buyer', itemId: 'thing' }, () => undefined);
      expect(r).toMatchObject({ completed: 300, failed: 700, unfinished: 0 });
      expect(await balanceOf(t.db, 'buyer')).toBe('0.00');
      expect(await stockOf(t.db, 'thing')).toBe(100000 - 300);
    });

  test.each(['orchestration', 'choreography'] as const)(
    '%s: 1,000 purchases at once of an item with stock 300 complete 300, every other debit refunded', async (mode) => {
      await t.db.query(`INSERT INTO users (user_id, name, balance) VALUES ('rich', 'Rich', 1000000.00) ON CONFLICT (user_id) DO UPDATE SET balance = 1000000.00`);
      await t.db.query(`INSERT INTO items (item_id, name, price, stock) VALUES ('rare', 'Rare', 2.50, 300) ON CONFLICT (item_id) DO UPDATE SET stock = 300`);
      const r = await runLoad(t.db, runnerOn(t.db), { count: 1000, concurrency: 1000, mode, quantity: 1, seed: 1, userId: 'rich', itemId: 'rare' }, () => undefined);
      expect(r).toMatchObject({ completed: 300, compensated: 700, unfinished: 0 });
      expect(await stockOf(t.db, 'rare')).toBe(0);
      expect(await balanceOf(t.db, 'rich')).toBe('999250.00');
    });
});
