import { DataSource } from 'typeorm';
import { createTestDb, TestDb } from '../support/database';
import { balanceOf, stockOf } from '../support/saga';
import { createDataSource } from '../../src/db/data-source';
import { loadFixtures } from '../../src/seed/fixtures';
import { NaiveTypeormPurchaser } from '../../bench/naive-typeorm';

// The benchmark's baseline must run the same saga as the engine, or its figures mean nothing.
let t: TestDb;
let ds: DataSource;
let naive: NaiveTypeormPurchaser;
beforeAll(async () => {
  t = await createTestDb();
  ds = await createDataSource(t.url, 'sagactl-test-naive').initialize();
  naive = new NaiveTypeormPurchaser(ds);
});
beforeEach(async () => { await loadFixtures(t.db, { reset: true }); });
afterAll(async () => {
  await ds?.destroy();
  await t.drop();
});

const steps = async (id: string) => (await t.db.query(
  'SELECT step, kind, status FROM saga_step_results WHERE transaction_id = $1 ORDER BY id', [id]))
  .map((s) => `${s.step}:${s.kind}:${s.status}`);

test('user-123 buys 1 item-sword: completed, balance 900.00, stock 49, four step rows', async () => {
  const r = await naive.run({ userId: 'user-123', itemId: 'item-sword', quantity: 1, mode: 'orchestration' });
  expect(r.status).toBe('completed');
  expect(await balanceOf(t.db, 'user-123')).toBe('900.00');
  expect(await stockOf(t.db, 'item-sword')).toBe(49);
  expect(await steps(r.transactionId)).toEqual(['validate_user:forward:succeeded', 'reserve_inventory:forward:succeeded',
    'log_transaction:forward:succeeded', 'send_notification:forward:succeeded']);
  const [saga] = await t.db.query('SELECT status, mode, price::text, completed_at IS NOT NULL AS done FROM saga_states WHERE transaction_id = $1',
    [r.transactionId]);
  expect(saga).toEqual({ status: 'completed', mode: 'orchestration', price: '100.00', done: true });
  expect(await t.db.query('SELECT log_id, status FROM transaction_logs WHERE transaction_id = $1', [r.transactionId]))
    .toEqual([{ log_id: `log-${r.transactionId}`, status: 'logged' }]);
  expect(await t.db.query('SELECT notification_id, status, channels FROM notifications WHERE transaction_id = $1', [r.transactionId]))
    .toEqual([{ notification_id: `ntf-${r.transactionId}`, status: 'sent', channels: ['email', 'push'] }]);
});

test('user-123 buys item-out-of-stock: compensated, the balance back to 1000.00', async () => {
  const r = await naive.run({ userId: 'user-123', itemId: 'item-out-of-stock', quantity: 1, mode: 'orchestration' });
  expect(r.status).toBe('compensated');
  expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
  expect(await stockOf(t.db, 'item-out-of-stock')).toBe(0);
  expect(await steps(r.transactionId)).toEqual(['validate_user:forward:succeeded', 'reserve_inventory:forward:failed',
    'validate_user:compensation:succeeded']);
  const [saga] = await t.db.query('SELECT status, error_code FROM saga_states WHERE transaction_id = $1', [r.transactionId]);
  expect(saga).toEqual({ status: 'compensated', error_code: 'INSUFFICIENT_STOCK' });
});
