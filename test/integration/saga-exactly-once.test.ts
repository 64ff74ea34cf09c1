import { createTestDb, TestDb } from '../support/database';
import { balanceOf, runnerOn, stockOf } from '../support/saga';
import { loadFixtures } from '../../src/seed/fixtures';
import { DEFAULT_LEASE_MS, Engine, EngineDeps } from '../../src/saga/engine';
import { runLoad } from '../../src/saga/load';
import { SagaDriver } from '../../src/saga/driver';

let t: TestDb;
let deps: EngineDeps;
beforeAll(async () => {
  t = await createTestDb();
  deps = { db: t.db, owner: 'test-owner', leaseMs: DEFAULT_LEASE_MS, lockTimeoutMs: 5000, grouping: true };
});
afterAll(async () => { await t.drop(); });
beforeEach(async () => {
  await t.db.query('TRUNCATE saga_events, saga_step_results, notifications, transaction_logs, saga_states, ledger');
  await loadFixtures(t.db, { reset: true });
});

const req = { userId: 'user-123', itemId: 'item-sword', quantity: 1, inject: false };
const step = (id: string, mode: 'orchestration' | 'choreography' = 'orchestration') => ({ id, mode, inject: false, eventId: null });
const count = async (sql: string, params: unknown[] = []) => (await t.db.query(sql, params))[0].n as number;

test('a forward step run twice applies once: the second does not act', async () => {
  const engine = new Engine(deps);
  await engine.start({ ...req, id: 'tx-twice', mode: 'orchestration' });
  const first = await engine.forward('reserve_inventory', step('tx-twice'));
  const second = await engine.forward('reserve_inventory', step('tx-twice'));
  expect([first.acted, second.acted]).toEqual([true, false]);
  expect(await stockOf(t.db, 'item-sword')).toBe(49);
});

test('the same step run by four engines at once applies once, and each of the others only sees it done', async () => {
  await new Engine(deps).start({ ...req, id: 'tx-race', mode: 'orchestration' });
  const results = await Promise.all([1, 2, 3, 4].map(() => new Engine({ ...deps, grouping: false }).forward('reserve_inventory', step('tx-race'))));
  expect(results.filter((r) => r.acted && r.code === null)).toHaveLength(1);
  expect(await stockOf(t.db, 'item-sword')).toBe(49);
  expect(await count(`SELECT count(*)::int AS n FROM saga_step_results WHERE transaction_id = 'tx-race' AND step = 'reserve_inventory'`)).toBe(1);
  expect(await count(`SELECT count(*)::int AS n FROM ledger WHERE transaction_id = 'tx-race' AND step = 'reserve_inventory'`)).toBe(1);
});

test('a compensation run twice refunds once; the last undo is decided from the records', async () => {
  const engine = new Engine(deps);
  await engine.start({ ...req, id: 'tx-comp', mode: 'orchestration', itemId: 'item-out-of-stock' });
  const failed = await engine.forward('reserve_inventory', step('tx-comp'));
  expect([failed.code, failed.status]).toEqual(['INSUFFICIENT_STOCK', 'compensating']);
  expect(await balanceOf(t.db, 'user-123')).toBe('500.00');
  const once = await engine.compensate('validate_user', step('tx-comp'));
  const twice = await engine.compensate('validate_user', step('tx-comp'));
  expect([once.acted, once.status, once.nextUndo]).toEqual([true, 'compensated', null]);
  expect(twice.acted).toBe(false);
  expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
});

test('after a later step fails, undoing it names the next undo; the last one ends the saga', async () => {
  const engine = new Engine(deps);
  await engine.start({ ...req, id: 'tx-order', mode: 'orchestration' });
  await engine.forward('reserve_inventory', step('tx-order'));
  const failed = await engine.forward('log_transaction', { ...step('tx-order'), inject: true });
  expect(failed.status).toBe('compensating');
  const first = await engine.compensate('reserve_inventory', step('tx-order'));
  expect([first.status, first.nextUndo]).toEqual(['compensating', 'validate_user']);
  const last = await engine.compensate('validate_user', step('tx-order'));
  expect([last.status, last.nextUndo]).toEqual(['compensated', null]);
});

test('compensating a step whose forward never committed undoes nothing', async () => {
  const engine = new Engine(deps);
  await engine.start({ ...req, id: 'tx-never', mode: 'orchestration', itemId: 'item-out-of-stock' });
  await engine.forward('reserve_inventory', step('tx-never'));
  const stock = await stockOf(t.db, 'item-out-of-stock');
  const r = await engine.compensate('reserve_inventory', step('tx-never'));
  expect(r.acted).toBe(false);
  expect(await stockOf(t.db, 'item-out-of-stock')).toBe(stock);
  expect(await count(`SELECT count(*)::int AS n FROM saga_step_results WHERE transaction_id = 'tx-never' AND kind = 'compensation'`)).toBe(0);
});

test('a step that does not act leaves its triggering event undelivered; one that acts consumes it', async () => {
  const engine = new Engine(deps);
  const start = await engine.start({ ...req, id: 'tx-event', mode: 'choreography' });
  const other = await new Engine({ ...deps, owner: 'someone-else' }).forward('reserve_inventory', { ...step('tx-event', 'choreography'), eventId: start.eventId });
  expect(other.acted).toBe(false);
  const delivered = async () => (await t.db.query('SELECT delivered_at IS NOT NULL AS d FROM saga_events WHERE id = $1', [start.eventId]))[0].d;
  expect(await delivered()).toBe(false);
  const mine = await engine.forward('reserve_inventory', { ...step('tx-event', 'choreography'), eventId: start.eventId });
  expect([mine.acted, mine.eventType]).toEqual([true, 'log_transaction.run']);
  expect(await delivered()).toBe(true);
});

test('a driver never acts on a saga of the other mode, nor on one leased to another live owner', async () => {
  const engine = new Engine(deps);
  await engine.start({ ...req, id: 'tx-mode', mode: 'orchestration' });
  expect((await engine.forward('reserve_inventory', step('tx-mode', 'choreography'))).acted).toBe(false);
  expect((await new Engine({ ...deps, owner: 'someone-else' }).forward('reserve_inventory', step('tx-mode'))).acted).toBe(false);
  expect(await stockOf(t.db, 'item-sword')).toBe(50);
});

test('a failed compensation leaves compensation_failed, records no undo and moves nothing', async () => {
  const engine = new Engine(deps);
  await engine.start({ ...req, id: 'tx-cf', mode: 'orchestration', itemId: 'item-out-of-stock' });
  await engine.forward('reserve_inventory', step('tx-cf'));
  const r = await engine.compensate('validate_user', { ...step('tx-cf'), inject: true });
  expect([r.acted, r.status, r.sagaError]).toEqual([true, 'compensation_failed', 'COMPENSATION_FAILED']);
  expect(await balanceOf(t.db, 'user-123')).toBe('500.00');
  expect(await count(`SELECT count(*)::int AS n FROM saga_step_results WHERE transaction_id = 'tx-cf' AND kind = 'compensation'`)).toBe(0);
});

test('one batch decides each saga alone: a hot item is changed once, purchases admitted in order while stock lasts', async () => {
  await t.db.query(`INSERT INTO items (item_id, name, price, stock) VALUES ('few', 'Few', 1.00, 3)`);
  await t.db.query(`INSERT INTO users (user_id, name, balance) VALUES ('b1', 'B1', 100), ('b2', 'B2', 100)`);
  const engine = new Engine(deps);
  const ids = ['q1', 'q2', 'q3', 'q4', 'q5'];
  await Promise.all(ids.map((id, i) => engine.start({ ...req, id, mode: 'orchestration', userId: i % 2 ? 'b2' : 'b1', itemId: 'few', quantity: 1 })));
  const results = await Promise.all(ids.map((id) => engine.forward('reserve_inventory', step(id))));
  expect(results.map((r) => r.code)).toEqual([null, null, null, 'INSUFFICIENT_STOCK', 'INSUFFICIENT_STOCK']);
  expect(await stockOf(t.db, 'few')).toBe(0);
  const stockAfter = (await t.db.query(`SELECT data->>'stockAfter' AS s FROM saga_step_results WHERE step = 'reserve_inventory' AND transaction_id = ANY($1) ORDER BY transaction_id`, [ids])).map((r) => r.s);
  expect(stockAfter).toEqual(['2', '1', '0', null, null]);
  // The first statement carries q1 alone; the ones that queued behind it share the second: two
  // transactions moved the item's stock, each saga attributed its own unit.
  expect(await count(`SELECT count(DISTINCT xact)::int AS n FROM ledger WHERE account = 'item' AND account_id = 'few' AND source = 'saga'`)).toBe(2);
  expect(await count(`SELECT count(*)::int AS n FROM ledger WHERE account = 'item' AND account_id = 'few' AND source = 'saga' AND delta = -1`)).toBe(3);
});

test('orchestration and choreography, grouped or not, leave the same rows', async () => {
  const rows: unknown[] = [];
  for (const grouping of [true, false]) {
    for (const mode of ['orchestration', 'choreography'] as const) {
      await loadFixtures(t.db, { reset: true });
      const driver = new SagaDriver(new Engine({ ...deps, grouping }));
      const id = `parity-${grouping}-${mode}`;
      await driver.purchase(id, { mode, userId: 'user-123', itemId: 'item-potion', quantity: 2 });
      await driver.purchase(`${id}-f`, { mode, userId: 'user-123', itemId: 'item-potion', quantity: 1 }, { forward: 'log_transaction' });
      const { sagaRows } = await import('../support/saga');
      rows.push([await sagaRows(t.db, id), await sagaRows(t.db, `${id}-f`)]);
    }
  }
  for (const r of rows.slice(1)) expect(JSON.parse(JSON.stringify(r).replace(/parity-\w+-\w+/g, 'ID'))).toEqual(JSON.parse(JSON.stringify(rows[0]).replace(/parity-\w+-\w+/g, 'ID')));
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
