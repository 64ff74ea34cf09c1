import { createTestDb, TestDb } from '../support/database';
import { balanceOf, runnerOn, sagaRows, stockOf } from '../support/saga';
import { loadFixtures } from '../../src/seed/fixtures';
import { getSaga } from '../../src/saga/queries';
import { MODES, SagaMode } from '../../src/saga/types';

let t: TestDb;
beforeAll(async () => { t = await createTestDb(); });
afterAll(async () => { await t.drop(); });
beforeEach(async () => {
  await t.db.query('TRUNCATE saga_events, saga_step_results, notifications, transaction_logs, saga_states');
  await loadFixtures(t.db, { reset: true });
});

const buy = (mode: SagaMode, userId: string, itemId: string, quantity = 1, extra = {}) =>
  runnerOn(t.db).run({ userId, itemId, quantity, mode, ...extra });

describe.each(MODES)('%s', (mode) => {
  test('user-123 buys 1 item-sword: completed, balance 900.00, stock 49', async () => {
    const r = await buy(mode, 'user-123', 'item-sword');
    expect(r.status).toBe('completed');
    expect(await balanceOf(t.db, 'user-123')).toBe('900.00');
    expect(await stockOf(t.db, 'item-sword')).toBe(49);
    const view = await getSaga(t.db, r.transactionId);
    expect(view).toMatchObject({ status: 'completed', mode, total: '100.00', price: '100.00', errorCode: null });
    expect(view.steps.map((s) => `${s.step}:${s.kind}:${s.status}`)).toEqual([
      'validate_user:forward:succeeded', 'reserve_inventory:forward:succeeded',
      'log_transaction:forward:succeeded', 'send_notification:forward:succeeded']);
    const log = await t.db.query('SELECT status, price::text FROM transaction_logs WHERE transaction_id = $1', [r.transactionId]);
    expect(log).toEqual([{ status: 'logged', price: '100.00' }]);
    const note = await t.db.query('SELECT status, channels FROM notifications WHERE transaction_id = $1', [r.transactionId]);
    expect(note).toEqual([{ status: 'sent', channels: ['email', 'push'] }]);
  });

  test.each([
    ['user-456', 'item-sword', 1, 'INSUFFICIENT_BALANCE'],
    ['user-suspended', 'item-potion', 1, 'USER_NOT_ACTIVE'],
    ['user-123', 'item-sword', 6, 'PURCHASE_LIMIT_EXCEEDED'],
    ['nobody', 'item-sword', 1, 'USER_NOT_FOUND'],
    ['user-123', 'no-such-item', 1, 'ITEM_NOT_FOUND'],
  ])('%s buys %s x%i: failed with %s, nothing changed', async (user, item, qty, code) => {
    const before = await t.db.query('SELECT user_id, balance::text FROM users ORDER BY user_id');
    const r = await buy(mode, user, item, qty);
    expect(r.status).toBe('failed');
    const view = await getSaga(t.db, r.transactionId);
    expect(view.errorCode).toBe(code);
    expect(view.steps).toHaveLength(1);
    expect(await t.db.query('SELECT user_id, balance::text FROM users ORDER BY user_id')).toEqual(before);
    expect(await stockOf(t.db, 'item-sword')).toBe(50);
  });

  test.each([
    ['item-out-of-stock', 'INSUFFICIENT_STOCK'],
    ['item-disabled', 'ITEM_NOT_AVAILABLE'],
  ])('user-123 buys %s: compensated with %s, the debit refunded to the cent', async (item, code) => {
    const r = await buy(mode, 'user-123', item);
    expect(r.status).toBe('compensated');
    const view = await getSaga(t.db, r.transactionId);
    expect(view.errorCode).toBe(code);
    expect(view.steps.map((s) => `${s.step}:${s.kind}:${s.status}`)).toEqual([
      'validate_user:forward:succeeded', 'reserve_inventory:forward:failed', 'validate_user:compensation:succeeded']);
    expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
  });

  test('a failure injected at log_transaction undoes the stock and the debit in reverse', async () => {
    const r = await buy(mode, 'user-123', 'item-sword', 2, { failAt: 'log_transaction' });
    expect(r.status).toBe('compensated');
    const view = await getSaga(t.db, r.transactionId);
    expect(view.steps.map((s) => `${s.step}:${s.kind}`)).toEqual([
      'validate_user:forward', 'reserve_inventory:forward', 'log_transaction:forward',
      'reserve_inventory:compensation', 'validate_user:compensation']);
    expect(view.steps[2]).toMatchObject({ status: 'failed', errorCode: 'INJECTED_FAILURE', data: expect.objectContaining({ injected: true }) });
    expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
    expect(await stockOf(t.db, 'item-sword')).toBe(50);
  });

  test('a failed notification never refunds: completed, the notification row says failed', async () => {
    const r = await buy(mode, 'user-123', 'item-potion', 1, { failAt: 'send_notification' });
    expect(r.status).toBe('completed');
    const view = await getSaga(t.db, r.transactionId);
    expect(view.steps[3]).toMatchObject({ step: 'send_notification', status: 'failed', errorCode: 'NOTIFICATION_FAILED' });
    expect(await balanceOf(t.db, 'user-123')).toBe('980.00');
    const note = await t.db.query('SELECT status, sent_at FROM notifications WHERE transaction_id = $1', [r.transactionId]);
    expect(note).toEqual([{ status: 'failed', sent_at: null }]);
  });

  test('the same --id runs once: a second run reports it and executes nothing', async () => {
    const first = await buy(mode, 'user-123', 'item-sword', 1, { transactionId: `order-${mode}` });
    const second = await buy(mode, 'user-123', 'item-sword', 1, { transactionId: `order-${mode}` });
    expect(first).toMatchObject({ executed: true, status: 'completed' });
    expect(second).toMatchObject({ executed: false, status: 'completed' });
    expect(await balanceOf(t.db, 'user-123')).toBe('900.00');
  });
});

test('parity: both modes leave identical saga, step, log, notification, balance and stock rows', async () => {
  const scenarios: [string, string, number, object][] = [
    ['user-123', 'item-sword', 1, {}], ['user-456', 'item-sword', 1, {}], ['user-123', 'item-out-of-stock', 1, {}],
    ['user-123', 'item-disabled', 1, {}], ['user-123', 'item-potion', 2, { failAt: 'log_transaction' }],
    ['user-123', 'item-potion', 1, { failAt: 'send_notification' }], ['user-suspended', 'item-potion', 1, {}],
  ];
  const results: Record<string, unknown[]> = {};
  for (const mode of MODES) {
    await t.db.query('TRUNCATE saga_events, saga_step_results, notifications, transaction_logs, saga_states');
    await loadFixtures(t.db, { reset: true });
    results[mode] = [];
    for (const [user, item, qty, extra] of scenarios) {
      const r = await buy(mode, user, item, qty, extra);
      results[mode].push(await sagaRows(t.db, r.transactionId));
    }
    results[mode].push(await t.db.query('SELECT user_id, balance::text FROM users ORDER BY user_id'));
    results[mode].push(await t.db.query('SELECT item_id, stock FROM items ORDER BY item_id'));
  }
  expect(results.choreography).toEqual(results.orchestration);
  // Choreography's outbox: every event it wrote was delivered.
  const undelivered = await t.db.query('SELECT count(*)::int AS n FROM saga_events WHERE delivered_at IS NULL');
  expect(undelivered[0].n).toBe(0);
});
