import { createTestDb, TestDb } from '../support/database';
import { runBin, runMain } from '../support/cli';
import { balanceOf } from '../support/saga';
import { loadFixtures } from '../../src/seed/fixtures';

let t: TestDb;
let env: Record<string, string>;
beforeAll(async () => {
  t = await createTestDb();
  env = { DATABASE_URL: t.url };
  await loadFixtures(t.db);
});
afterAll(async () => { await t.drop(); });

const cli = (...argv: string[]) => runMain(argv, env);
const sagaCount = async () => (await t.db.query('SELECT count(*)::int AS n FROM saga_states'))[0].n;

test('saga run prints the timeline; --json is the saga show object; exit 0 completed, 7 not', async () => {
  const ok = await cli('saga', 'run', '--user', 'user-123', '--item', 'item-potion', '--id', 'cli-1', '--json');
  expect(ok.code).toBe(0);
  const shown = await cli('saga', 'show', 'cli-1', '--json');
  expect(JSON.parse(ok.stdout)).toEqual(JSON.parse(shown.stdout));
  expect(Object.keys(JSON.parse(shown.stdout))).toEqual(expect.arrayContaining([
    'transactionId', 'status', 'mode', 'userId', 'itemId', 'quantity', 'price', 'total', 'errorCode', 'errorMessage',
    'createdAt', 'updatedAt', 'completedAt', 'steps']));
  expect(Object.keys(JSON.parse(shown.stdout).steps[0]).sort()).toEqual(
    ['data', 'durationMs', 'errorCode', 'errorMessage', 'executedAt', 'kind', 'status', 'step']);
  const human = await cli('saga', 'run', '--user', 'user-123', '--item', 'item-out-of-stock', '--mode', 'choreography');
  expect(human.code).toBe(7);
  expect(human.stdout).toContain('INSUFFICIENT_STOCK');
  expect(human.stdout).toMatch(/validate_user.*compensation.*succeeded/);
  const again = await cli('saga', 'run', '--user', 'user-123', '--item', 'item-potion', '--id', 'cli-1');
  expect(again.code).toBe(0);
  expect(again.stderr).toContain('exists already');
});

test('the built binary: first stderr line names the database, exit 7 for an unknown user', async () => {
  const r = await runBin(['saga', 'run', '--user', 'nobody', '--item', 'item-sword'], env);
  expect(r.code).toBe(7);
  expect(r.stderr.split('\n')[0]).toBe(`database: ${t.url} (DATABASE_URL)`);
  expect(r.stdout).toContain('USER_NOT_FOUND');
});

test('saga show of an unknown id exits 3', async () => {
  const r = await cli('saga', 'show', 'no-such-id');
  expect(r.code).toBe(3);
  expect(r.stderr).toContain('No saga with id "no-such-id"');
});

test('saga list filters, counts and pages by keyset', async () => {
  for (let i = 0; i < 5; i++) await cli('saga', 'run', '--user', 'user-123', '--item', 'item-potion', '--id', `page-${i}`);
  const first = JSON.parse((await cli('saga', 'list', '--user', 'user-123', '--item', 'item-potion', '--limit', '2', '--json')).stdout);
  expect(first.sagas).toHaveLength(2);
  expect(first.countIsEstimate).toBe(false);
  const seen = new Set(first.sagas.map((s: { transactionId: string }) => s.transactionId));
  let cursor = first.nextCursor;
  while (cursor) {
    const page = JSON.parse((await cli('saga', 'list', '--user', 'user-123', '--item', 'item-potion', '--limit', '2', '--after', cursor, '--json')).stdout);
    page.sagas.forEach((s: { transactionId: string }) => seen.add(s.transactionId));
    cursor = page.nextCursor;
  }
  expect(seen.size).toBe(first.count);
  const compensated = JSON.parse((await cli('saga', 'list', '--status', 'compensated', '--json')).stdout);
  expect(compensated.sagas.every((s: { status: string }) => s.status === 'compensated')).toBe(true);
  const future = JSON.parse((await cli('saga', 'list', '--since', '2999-01-01', '--json')).stdout);
  expect(future).toMatchObject({ sagas: [], count: 0 });
  const table = await cli('saga', 'list', '--limit', '1');
  expect(table.stdout).toContain('next page: --after');
});

test('saga load reports outcomes, rates and latency, and exits 0 when all settled', async () => {
  const r = await cli('saga', 'load', '--count', '40', '--concurrency', '4', '--user', 'user-123', '--item', 'item-potion', '--json');
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out).toMatchObject({ count: 40, concurrency: 4, mode: 'orchestration', unfinished: 0 });
  expect(out.completed + out.failed + out.compensated + out.compensationFailed).toBe(40);
  expect(out.latencyMs.p50).toBeLessThanOrEqual(out.latencyMs.p95);
  expect(out.sagasPerSecond).toBeGreaterThan(0);
  const human = await cli('saga', 'load', '--count', '5', '--concurrency', '2', '--mode', 'choreography');
  expect(human.code).toBe(0);
  expect(human.stdout).toMatch(/latency \(ms, up to\):\n.*│█/);
});

describe('bad input: a clear message, exit 2, and no saga written', () => {
  test.each([
    ['saga', 'run', '--user', 'user-123', '--item', 'item-sword', '--qty', '0'],
    ['saga', 'run', '--user', 'user-123', '--item', 'item-sword', '--qty', '-1'],
    ['saga', 'run', '--user', 'user-123', '--item', 'item-sword', '--qty', 'abc'],
    ['saga', 'run', '--user', 'user-123', '--item', 'item-sword', '--qty', '1.5'],
    ['saga', 'run', '--user', 'user-123', '--item', 'item-sword', '--qty', '99999999999'],
    ['saga', 'run', '--user', 'user-123', '--item', 'item-sword', '--mode', 'telepathy'],
    ['saga', 'run', '--user', 'user-123', '--item', 'item-sword', '--fail-at', 'payment'],
    ['saga', 'run', '--user', 'user-123', '--item', 'item-sword', '--id', 'x'.repeat(200)],
    ['saga', 'run', '--user', 'user-123', '--item', 'item-sword', '--lease', '0s'],
    ['saga', 'run', '--user', "'; DROP TABLE users; --", '--item', 'item-sword'],
    ['saga', 'run', '--user', 'u'.repeat(51), '--item', 'item-sword'],
    ['saga', 'run', '--item', 'item-sword'],
    ['saga', 'run', '--user', 'user-123'],
    ['saga', 'show', 'bad id with spaces'],
    ['saga', 'list', '--status', 'done'],
    ['saga', 'list', '--limit', '0'],
    ['saga', 'list', '--limit', '-3'],
    ['saga', 'list', '--since', 'yesterday'],
    ['saga', 'list', '--since', '1h', '--until', '2h'],
    ['saga', 'list', '--mode', 'x'],
    ['saga', 'list', '--after', 'garbage'],
    ['saga', 'load', '--count', '0'],
    ['saga', 'load', '--concurrency', '0'],
    ['saga', 'load', '--mode', 'both'],
    ['saga', 'load', '--qty', '-2'],
    ['saga', 'load', '--seed', 'x'],
    ['saga', 'load', '--lease', 'forever'],
  ])('%s %s %s %s %s %s %s %s', async (...argv) => {
    const before = await sagaCount();
    const r = await runMain(argv, env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error: /);
    expect(await sagaCount()).toBe(before);
    expect(await balanceOf(t.db, 'user-456')).toBe('50.00');
  });
});

test('on a database that was never migrated: exit 3 and the fix, not an internal error', async () => {
  const empty = await createTestDb({ empty: true });
  try {
    const r = await runMain(['saga', 'list'], { DATABASE_URL: empty.url });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('sagactl migrate up');
  } finally {
    await empty.drop();
  }
});
