import { createTestDb, TestDb } from '../support/database';
import { runMain } from '../support/cli';

/**
 * FILTERS (src/saga/filter.ts), through `saga list`: each filter selects what it says, filters
 * combine with AND and a list within one with OR; bad values and contradictions are exit 2.
 */
let t: TestDb;
const cli = (...argv: string[]) => runMain(argv, { DATABASE_URL: t.url });
const ids: Record<string, string> = {};

async function run(name: string, ...flags: string[]): Promise<void> {
  const r = await cli('saga', 'run', '--id', name, ...flags, '--json');
  expect([0, 7]).toContain(r.code);
  ids[name] = JSON.parse(r.stdout).transactionId;
}

beforeAll(async () => {
  t = await createTestDb();
  expect((await cli('seed', 'fixtures')).code).toBe(0);
  await run('done', '--user', 'user-123', '--item', 'item-potion');
  await run('choreo', '--user', 'user-123', '--item', 'item-sword', '--mode', 'choreography');
  await run('undone', '--user', 'user-123', '--item', 'item-potion', '--fail-at', 'log_transaction');
  await run('unsent', '--user', 'user-123', '--item', 'item-potion', '--fail-at', 'send_notification');
  await run('poor', '--user', 'user-456', '--item', 'item-sword');
  // One saga left in flight, unmoved for an hour and with no lease: stuck.
  await t.db.query(`INSERT INTO saga_states (transaction_id, status, user_id, item_id, quantity, price, mode, created_at, updated_at)
    VALUES ('stalled', 'in_progress', 'user-789', 'item-shield', 1, 10.00, 'orchestration',
            timezone('UTC', now()) - interval '2 hours', timezone('UTC', now()) - interval '1 hour')`);
}, 60_000);

afterAll(async () => {
  await t?.drop();
});

async function listed(...flags: string[]): Promise<string[]> {
  const r = await cli('saga', 'list', '--limit', '100', '--json', ...flags);
  expect([r.code, r.stderr]).toEqual([0, expect.any(String)]);
  return JSON.parse(r.stdout).sagas.map((s: { transactionId: string }) => s.transactionId).sort();
}

test.each([
  [['--status', 'completed'], ['choreo', 'done', 'unsent']],
  [['--status', 'compensated,failed'], ['poor', 'undone']],
  [['--mode', 'choreography'], ['choreo']],
  [['--user', 'user-456,user-789'], ['poor', 'stalled']],
  [['--item', 'item-sword', '--status', 'completed'], ['choreo']],
  [['--error-code', 'INSUFFICIENT_BALANCE'], ['poor']],
  // A completed saga whose notification failed: the code is on its step record only.
  [['--error-code', 'NOTIFICATION_FAILED'], ['unsent']],
  [['--step', 'log_transaction'], ['unsent']],
  [['--step', 'reserve_inventory'], ['undone']],
  [['--step', 'none'], ['poor', 'stalled']],
  [['--until', '1h'], ['stalled']],
  [['--since', '1h'], ['choreo', 'done', 'poor', 'undone', 'unsent']],
  [['--stuck'], ['stalled']],
  [['--stuck', '--older-than', '2h'], []],
])('saga list %j', async (flags, expected) => {
  expect(await listed(...flags)).toEqual(expected);
});

test('the library takes the same filters, one value or a list', async () => {
  const { createSagaClient } = await import('../../src/index');
  const client = createSagaClient({ connectionString: t.url });
  try {
    const one = await client.listSagas({ status: 'completed', userId: 'user-123', errorCode: 'NOTIFICATION_FAILED' });
    expect(one.sagas.map((s) => s.transactionId)).toEqual(['unsent']);
    const many = await client.listSagas({ status: ['failed', 'in_progress'] });
    expect(many.sagas.map((s) => s.transactionId).sort()).toEqual(['poor', 'stalled']);
  } finally {
    await client.close();
  }
});

test.each([
  [['--status', 'done'], /--status must be one or more of pending, in_progress/],
  [['--status', 'completed,'], /--status has an empty value/],
  [['--mode', 'saga'], /--mode must be one or more of orchestration, choreography/],
  [['--user', "x' OR 1=1"], /--user must be 1 to 50 characters/],
  [['--item', ''], /--item has an empty value/],
  [['--error-code', 'OOPS'], /--error-code must be one or more of USER_NOT_FOUND/],
  [['--step', 'pay'], /--step must be one or more of validate_user, .*none/],
  [['--since', 'yesterday'], /--since must be an ISO-8601 time/],
  [['--until', '2026-13-01'], /--until must be an ISO-8601 time/],
  [['--since', '1h', '--until', '2h'], /--since must be before --until/],
  [['--stuck', '--status', 'completed,failed'], /--stuck selects sagas in flight .* no saga can match both/],
  [['--stuck', '--older-than', 'soon'], /--older-than must be a duration/],
])('bad FILTERS %j: exit 2, the reason', async (flags, message) => {
  const r = await cli('saga', 'list', ...flags);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(message);
});
