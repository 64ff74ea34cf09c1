import { Client } from 'pg';
import { createTestDb, TestDb } from '../support/database';
import { runMain } from '../support/cli';
import { balanceOf } from '../support/saga';
import { loadFixtures } from '../../src/seed/fixtures';
import { Engine } from '../../src/saga/engine';
import { exitCodeOf } from '../../src/cli/saga';

// `saga show`, `saga list` and `saga load` as people and scripts read them, on sagas the engine
// left in flight and rows another writer made, and a load the database refuses.

let t: TestDb;
let env: Record<string, string>;
beforeAll(async () => {
  t = await createTestDb();
  env = { DATABASE_URL: t.url, COLUMNS: '400' };
});
afterAll(async () => { await t.drop(); });
beforeEach(async () => {
  await t.db.query('TRUNCATE saga_events, saga_step_results, notifications, transaction_logs, saga_states, ledger');
  await loadFixtures(t.db, { reset: true });
});

const cli = (...argv: string[]) => runMain(argv, env);
const sagaCount = async () => (await t.db.query('SELECT count(*)::int AS n FROM saga_states'))[0].n as number;

test('the exit code of a saga\'s final status (the README\'s contract): 0 completed, 5 compensation failed, 7 any other end', () => {
  expect(['completed', 'compensation_failed', 'compensated', 'failed'].map(exitCodeOf)).toEqual([0, 5, 7, 7]);
});

test('a saga in flight is shown and listed with its status, and with no completion time', async () => {
  await new Engine({ db: t.db, owner: 'elsewhere:1:alive', leaseMs: 60_000, lockTimeoutMs: 5000, grouping: false })
    .start({ id: 'in-flight', mode: 'choreography', userId: 'user-123', itemId: 'item-sword', quantity: 1, inject: false });
  const show = await cli('saga', 'show', 'in-flight');
  expect(show.code).toBe(0);
  expect(show.stdout.split('\n').slice(0, 3)).toEqual([
    'in-flight  in_progress  (choreography)', 'user-123 buys 1 x item-sword at 100.00 = 100.00', expect.stringMatching(/^created \S+Z$/)]);
  expect(show.stdout).toMatch(/validate_user +forward +succeeded .*"amount":"100.00"/);
  const list = await cli('saga', 'list');
  expect(list.stdout).toMatch(/in-flight +in_progress +choreography +user-123 +item-sword/);
  expect(list.stdout).toContain('1 shown of 1 matching');
});

test('a row another writer made, with an error code but no message and a step without data, is shown as it is', async () => {
  await t.db.query(`INSERT INTO saga_states (transaction_id, status, user_id, item_id, quantity, price, mode, error_code)
                    VALUES ('outside', 'failed', 'user-123', 'item-sword', 1, 100.00, 'orchestration', 'INSUFFICIENT_BALANCE')`);
  await t.db.query(`INSERT INTO saga_step_results (transaction_id, step, kind, status) VALUES ('outside', 'validate_user', 'forward', 'failed')`);
  const show = await cli('saga', 'show', 'outside');
  expect(show.code).toBe(0);
  expect(show.stdout).toContain('outside  failed  (orchestration)\n');
  expect(show.stdout).toContain('error: INSUFFICIENT_BALANCE: \n');
  expect(show.stdout).toMatch(/validate_user +forward +failed +\d\d:\d\d:\d\d\.\d{3} *\n/);
  const json = JSON.parse((await cli('saga', 'show', 'outside', '--json')).stdout);
  expect(json).toMatchObject({ status: 'failed', errorCode: 'INSUFFICIENT_BALANCE', errorMessage: null, completedAt: null, steps: [{ data: null }] });
});

test('saga load with nothing to buy: exit 3, and how to seed', async () => {
  await t.db.query(`UPDATE items SET is_available = false`);
  const r = await cli('saga', 'load', '--count', '5', '--json');
  expect(r.code).toBe(3);
  const err = JSON.parse(r.stderr.trimEnd().split('\n').pop()!).error;
  expect(err).toMatchObject({ exitCode: 3, message: 'No active users or available items to buy with.', hint: expect.stringContaining('sagactl seed generate') });
  expect(await sagaCount()).toBe(0);
});

test('saga load whose purchases time out on a held lock: exit 4, the summary still printed, nothing debited', async () => {
  const holder = new Client({ connectionString: t.url, application_name: 'holder' });
  await holder.connect();
  try {
    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM users WHERE user_id = 'user-123' FOR UPDATE`);
    const r = await cli('saga', 'load', '--count', '3', '--concurrency', '3', '--user', 'user-123', '--item', 'item-potion', '--lock-timeout', '200ms');
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/^3 sagas \(orchestration, concurrency 3\)/);
    expect(r.stdout).toContain('completed 0, compensated 0, failed 0, compensation failed 0, unfinished 3\n');
    expect(r.stderr).toMatch(/3 saga\(s\) did not reach a final status: .*lock.*Those that started are left for recovery: sagactl saga recover --yes/);
  } finally {
    await holder.query('ROLLBACK');
    await holder.end();
  }
  expect(await sagaCount()).toBe(0);
  expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
});
