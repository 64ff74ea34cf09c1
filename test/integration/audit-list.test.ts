import { createTestDb, TestDb } from '../support/database';
import { runMain } from '../support/cli';

/** sagactl audit list: the operator_audit trail without psql, newest first, paged, filtered. */
let t: TestDb;
const cli = (...argv: string[]) => runMain(argv, { DATABASE_URL: t.url });

beforeAll(async () => {
  t = await createTestDb();
  expect((await cli('seed', 'fixtures')).code).toBe(0);
  expect((await cli('saga', 'run', '--user', 'user-123', '--item', 'item-sword', '--id', 'a1')).code).toBe(0);
  expect((await cli('saga', 'run', '--user', 'user-123', '--item', 'item-potion', '--id', 'a2')).code).toBe(0);
  expect((await cli('saga', 'compensate', 'a1', '--include-completed', '--reason', 'ticket 1', '--yes')).code).toBe(0);
  expect((await cli('saga', 'compensate', 'a2', '--include-completed', '--reason', 'ticket 2', '--yes')).code).toBe(0);
  expect((await cli('saga', 'prune', '--before', '1d', '--reason', 'retention drill', '--yes')).code).toBe(0);
});
afterAll(async () => { await t?.drop(); });

const list = async (...argv: string[]) => {
  const r = await cli('audit', 'list', '--json', ...argv);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as { entries: { id: string; action: string; transactionId: string | null; reason: string; outcome: string; osUser: string; details: unknown }[]; nextCursor: string | null };
};

test('every row, newest first, with who, what, on which saga, why and the outcome', async () => {
  const page = await list();
  expect(page.entries.map((e) => [e.action, e.transactionId, e.reason, e.outcome])).toEqual([
    ['prune', null, 'retention drill', 'done'],
    ['compensate', 'a2', 'ticket 2', 'compensated'],
    ['compensate', 'a1', 'ticket 1', 'compensated'],
  ]);
  expect(page.entries[0].details).toMatchObject({ deleted: 0 });
  expect(page.entries[0].osUser).toBeTruthy();
  expect(page.nextCursor).toBeNull();
});

test('paged by a cursor: the pages together are the whole list, once each', async () => {
  const first = await list('--limit', '2');
  expect(first.entries).toHaveLength(2);
  expect(first.nextCursor).toBe(first.entries[1].id);
  const second = await list('--limit', '2', '--after', first.nextCursor!);
  expect(second.entries.map((e) => e.transactionId)).toEqual(['a1']);
  expect(second.nextCursor).toBeNull();
});

test('--action, FILTERS on the saga named, and --since/--until on the moment of the action', async () => {
  expect((await list('--action', 'prune')).entries.map((e) => e.action)).toEqual(['prune']);
  expect((await list('--user', 'user-123', '--item', 'item-potion')).entries.map((e) => e.transactionId)).toEqual(['a2']);
  expect((await list('--status', 'compensated')).entries).toHaveLength(2);
  expect((await list('--since', '1h')).entries).toHaveLength(3);
  expect((await list('--until', '1h')).entries).toHaveLength(0);
});

test('the human table names the columns', async () => {
  const r = await cli('audit', 'list');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/action/);
  expect(r.stdout).toMatch(/ticket 2/);
});

describe('bad input: exit 2 with a clear message', () => {
  test.each([
    [['--action', 'delete'], /--action must be one or more of/],
    [['--limit', '0'], /--limit must be a whole number from 1 to 1000/],
    [['--after', 'abc'], /--after must be the cursor/],
    [['--status', 'lost'], /--status must be one or more of/],
    [['--since', 'yesterday-ish'], /--since/],
  ])('%#: %s', async (argv, message) => {
    const r = await cli('audit', 'list', ...argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
