import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDb, TestDb } from '../support/database';
import { runMain } from '../support/cli';

/** saga export and saga import refuse bad options and bad files with exit 2, writing nothing. */
let t: TestDb;
let dir: string;
const cli = (...argv: string[]) => runMain(argv, { DATABASE_URL: t.url });
const rows = async () => (await t.db.query(`SELECT (SELECT count(*) FROM saga_states) + (SELECT count(*) FROM users)
  + (SELECT count(*) FROM ledger) + (SELECT count(*) FROM operator_audit) AS n`))[0].n;

beforeAll(async () => {
  t = await createTestDb();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-bad-'));
  expect((await cli('seed', 'fixtures')).code).toBe(0);
});
afterAll(async () => {
  await t?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
};
const HEADER = '{"type":"header","format":"sagactl-archive","version":1,"exportedAt":"2026-01-01T00:00:00Z","filter":{}}';
const SAGA = { type: 'saga', saga: { transaction_id: 'x1', status: 'completed', mode: 'orchestration', user_id: 'user-123', item_id: 'item-sword',
  quantity: 1, price: '10.00' }, steps: [], logs: [], notifications: [], events: [], audit: [], ledger: [] };
const saga = (change: (s: typeof SAGA) => void) => {
  const copy = JSON.parse(JSON.stringify(SAGA));
  change(copy);
  return JSON.stringify(copy);
};

describe('export options', () => {
  test.each([
    [['--format', 'xml'], /--format must be ndjson or csv/],
    [['--output', '/no/such/dir/x.ndjson'], /does not exist/],
    [['--jobs', '0'], /--jobs must be a whole number from 1 to 8/],
    [['--jobs', '9'], /--jobs must be a whole number from 1 to 8/],
    [['--status', 'lost'], /--status must be one or more of/],
    [['--step', 'pay'], /--step must be one or more of/],
    [['--since', '2026-02-30'], /--since/],
    [['--since', '1h', '--until', '2h'], /--since must be before --until/],
  ])('%#: %s', async (argv, message) => {
    const r = await cli('saga', 'export', ...argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });
});

describe('import: each bad line named, exit 2, nothing written from it', () => {
  test.each([
    ['not JSON', `${HEADER}\n{"type":`, /line 2: not JSON/],
    ['no header', `${saga(() => undefined)}\n`, /line 1: the first line must be the archive header/],
    ['another format', '{"type":"header","format":"other","version":1}\n', /line 1: not a sagactl archive/],
    ['a newer version', '{"type":"header","format":"sagactl-archive","version":9}\n', /line 1: archive version 9/],
    ['unknown type', `${HEADER}\n{"type":"order"}\n`, /line 2: unknown record type "order"/],
    ['money as a number', `${HEADER}\n${saga((s) => { (s.saga as Record<string, unknown>).price = 10.5; })}\n`, /line 2: saga.price must be an amount as a string/],
    ['unknown status', `${HEADER}\n${saga((s) => { s.saga.status = 'done'; })}\n`, /line 2: saga.status must be one of/],
    ['a step of another saga', `${HEADER}\n${saga((s) => { (s.steps as unknown[]).push({ transaction_id: 'other', step: 'validate_user', kind: 'forward', status: 'succeeded' }); })}\n`,
      /line 2: steps\[0\].transaction_id is "other"/],
    ['an empty line', `${HEADER}\n\n`, /line 2: not JSON/],
    ['a record after the end', `${HEADER}\n{"type":"end","users":0,"items":0,"sagas":0}\n${saga(() => undefined)}\n`, /line 3: a record after the end record/],
  ])('%s', async (_name, text, message) => {
    const before = await rows();
    const r = await cli('saga', 'import', file('bad.ndjson', text));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    // Only the audit row saying the import failed at that line.
    expect(Number(await rows())).toBe(Number(before) + 1);
    expect((await t.db.query(`SELECT outcome FROM operator_audit ORDER BY id DESC LIMIT 1`))[0].outcome).toBe('failed');
  });

  test('a line the database refuses (a CHECK) is named too', async () => {
    const r = await cli('saga', 'import', file('check.ndjson', `${HEADER}\n${saga((s) => { s.saga.user_id = 'u'.repeat(50); s.saga.mode = 'orchestration'; (s.saga as Record<string, unknown>).error_code = 'NO_SUCH_CODE'; })}\n`));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/line 2: the database refused it: .*error_code/);
    expect((await t.db.query(`SELECT 1 FROM saga_states WHERE transaction_id = 'x1'`))).toHaveLength(0);
  });

  test.each([
    [['saga', 'import', '/no/such/file.ndjson'], /is not a file/],
    [['saga', 'import', '/tmp'], /is not a file/],
    [['saga', 'import', 'x', '--reason', '""'], /is not a file|--reason must be/],
  ])('options %#: %s', async (argv, message) => {
    const r = await cli(...argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});

test('a saga twice in one file: the copy is skipped, a third with other contents refused (exit 3), the first kept', async () => {
  const first = saga((s) => { s.saga.transaction_id = 'dup-1'; s.saga.status = 'failed'; });
  const other = saga((s) => { s.saga.transaction_id = 'dup-1'; s.saga.status = 'failed'; s.saga.quantity = 2; });
  const r = await cli('saga', 'import', file('dup.ndjson', `${HEADER}\n${first}\n${first}\n${other}\n{"type":"end","users":0,"items":0,"sagas":3}\n`), '--json');
  expect(r.code).toBe(3);
  expect(JSON.parse(r.stdout)).toMatchObject({ imported: { saga: 1 }, skipped: { saga: 1 }, refused: 1,
    refusedSample: [{ line: 4, type: 'saga', id: 'dup-1', why: 'saga dup-1 exists with other contents; it was left as it is' }] });
  expect(await t.db.query(`SELECT quantity FROM saga_states WHERE transaction_id = 'dup-1'`)).toEqual([{ quantity: 1 }]);
});
