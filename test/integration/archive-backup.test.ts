import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDb, TestDb } from '../support/database';
import { runMain } from '../support/cli';
import { getSaga } from '../../src/saga/queries';
import { ARCHIVE_COLUMNS } from '../../src/archive/format';

/**
 * Backup and restore, verified (the design's fourth milestone): a database with sagas of every
 * status, exported, imported into an empty migrated database, gives the same `db check`, the same
 * `stats` and the same `saga show` for every saga. Then: importing twice changes nothing, a
 * record that differs is refused, and a malformed line stops the import at that line.
 */
let source: TestDb;
let target: TestDb;
let dir: string;
let archive: string;
const on = (db: TestDb) => (...argv: string[]) => runMain(argv, { DATABASE_URL: db.url });

beforeAll(async () => {
  [source, target] = await Promise.all([createTestDb(), createTestDb()]);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-archive-'));
  archive = path.join(dir, 'backup.ndjson');
  const src = on(source);
  expect((await src('seed', 'fixtures')).code).toBe(0);
  expect((await src('seed', 'generate', '--users', '30', '--items', '6', '--sagas', '400')).code).toBe(0);
  // Real runs beside the generated history: completed, a failed undo drill, a rejected buyer, a failed notification.
  expect((await src('saga', 'run', '--user', 'user-123', '--item', 'item-sword', '--id', 'real-ok')).code).toBe(0);
  expect((await src('saga', 'run', '--user', 'user-123', '--item', 'item-potion', '--mode', 'choreography', '--id', 'real-choreo')).code).toBe(0);
  expect((await src('saga', 'run', '--user', 'user-123', '--item', 'item-sword', '--fail-at', 'log_transaction', '--id', 'real-undone')).code).toBe(7);
  expect((await src('saga', 'run', '--user', 'user-456', '--item', 'item-sword', '--qty', '50', '--id', 'real-rejected')).code).toBe(7);
  await src('saga', 'run', '--user', 'user-123', '--item', 'item-potion', '--fail-at', 'send_notification', '--id', 'real-no-notice');
  // The generated sagas left in flight are finished; those whose undo failed, and one completed purchase, compensated by an operator.
  expect((await src('saga', 'recover', '--yes')).code).toBe(0);
  const waiting = await source.db.query(`SELECT transaction_id FROM saga_states WHERE status = 'compensation_failed' ORDER BY 1`);
  expect(waiting.length).toBeGreaterThan(0);
  const ids = waiting.map((r) => r.transaction_id as string);
  expect((await src('saga', 'compensate', ...ids, '--reason', 'INC-1: drill', '--yes')).code).toBe(0);
  expect((await src('saga', 'compensate', 'real-ok', '--include-completed', '--reason', 'refund, ticket 9', '--yes')).code).toBe(0);
  expect((await src('db', 'check')).code).toBe(0);
}, 120_000);

afterAll(async () => {
  await Promise.all([source?.drop(), target?.drop()]);
  fs.rmSync(dir, { recursive: true, force: true });
});

const statuses = async (db: TestDb) => (await db.db.query('SELECT status, count(*)::int AS n FROM saga_states GROUP BY 1 ORDER BY 1'));
/** The statistics without what describes the moment of asking (now, the rollup's progress). */
async function statsOf(db: TestDb) {
  const r = await on(db)('stats', '--json');
  expect(r.code).toBe(0);
  const { window: _w, rollup: _r, ...stats } = JSON.parse(r.stdout);
  return stats;
}
async function rowCounts(db: TestDb) {
  const tables = ['users', 'items', 'saga_states', 'saga_step_results', 'transaction_logs', 'notifications', 'saga_events', 'ledger'];
  return Object.fromEntries(await Promise.all(tables.map(async (t) => [t, (await db.db.query(`SELECT count(*)::int AS n FROM ${t}`))[0].n])));
}

test('the archive names every column of every table it carries (a new column must be added to ARCHIVE_COLUMNS)', async () => {
  for (const [table, columns] of Object.entries(ARCHIVE_COLUMNS)) {
    const rows = await source.db.query(`SELECT attname FROM pg_attribute WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped
       AND (attname <> 'id' OR $1::text = 'operator_audit') ORDER BY attname`, [table]);
    expect(Object.keys(columns).sort()).toEqual(rows.map((r) => r.attname));
  }
});

test('a column the archive quotes without escaping (word) is held by a CHECK constraint to a list of plain words', async () => {
  for (const [table, columns] of Object.entries(ARCHIVE_COLUMNS)) {
    const defs = (await source.db.query(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::text::regclass AND contype = 'c'`,
      [table])).map((r) => r.def as string);
    for (const [column, kind] of Object.entries(columns)) {
      if (kind !== 'word') continue;
      const check = defs.find((d) => d.includes(`(${column})::text = ANY ((ARRAY[`));
      expect({ table, column, check: check !== undefined }).toEqual({ table, column, check: true });
      const words = [...check!.matchAll(/'([^']*)'::character varying/g)].map((m) => m[1]);
      expect(words.length).toBeGreaterThan(1);
      for (const word of words) expect(word).toMatch(/^[A-Za-z0-9_.]+$/);
    }
  }
});

test('the source holds sagas of every final status, with operator compensations in its audit', async () => {
  expect((await statuses(source)).map((r) => r.status)).toEqual(['compensated', 'completed', 'failed']);
  expect((await source.db.query(`SELECT count(*)::int AS n FROM operator_audit WHERE action = 'compensate' AND outcome = 'compensated'`))[0].n)
    .toBeGreaterThan(1);
});

test('export, then import into an empty migrated database: db check, stats and every saga show are identical', async () => {
  const exported = await on(source)('saga', 'export', '--output', archive, '--json');
  expect(exported.code).toBe(0);
  const summary = JSON.parse(exported.stdout);
  const sagas = (await source.db.query('SELECT count(*)::int AS n FROM saga_states'))[0].n;
  expect(summary).toMatchObject({ format: 'ndjson', sagas, file: archive });
  const lines = fs.readFileSync(archive, 'utf8').trimEnd().split('\n');
  expect(JSON.parse(lines[0])).toMatchObject({ type: 'header', format: 'sagactl-archive', version: 2 });
  expect(JSON.parse(lines[lines.length - 1])).toEqual({ type: 'end', users: summary.users, items: summary.items, sagas });

  const imported = await on(target)('saga', 'import', archive, '--json');
  expect(imported.code).toBe(0);
  expect(JSON.parse(imported.stdout)).toMatchObject({ imported: { saga: sagas, user: summary.users, item: summary.items }, refused: 0, complete: true });

  expect((await on(target)('db', 'check')).code).toBe(0);
  expect(await statsOf(target)).toEqual(await statsOf(source));
  const ids = (await source.db.query('SELECT transaction_id FROM saga_states ORDER BY 1')).map((r) => r.transaction_id as string);
  for (const id of ids) expect(await getSaga(target.db, id)).toEqual(await getSaga(source.db, id));
  for (const id of ['real-ok', 'real-undone', 'real-rejected', 'real-no-notice', 'real-choreo']) {
    expect((await on(target)('saga', 'show', id, '--json')).stdout).toBe((await on(source)('saga', 'show', id, '--json')).stdout);
  }
  const balances = 'SELECT user_id, balance::text FROM users ORDER BY 1';
  expect(await target.db.query(balances)).toEqual(await source.db.query(balances));
  // The operators' audit rows of each saga come along (bulk rows, which name no saga, stay behind).
  const audit = `SELECT transaction_id, at, os_user, host, action, reason, outcome, details FROM operator_audit
                  WHERE transaction_id IS NOT NULL ORDER BY transaction_id, at, action, outcome`;
  const trail = await source.db.query(audit);
  expect(trail.length).toBeGreaterThan(0);
  expect(await target.db.query(audit)).toEqual(trail);
}, 120_000);

test('importing the same archive again changes nothing', async () => {
  const before = await rowCounts(target);
  const again = await on(target)('saga', 'import', archive, '--json');
  expect(again.code).toBe(0);
  expect(JSON.parse(again.stdout)).toMatchObject({ imported: { user: 0, item: 0, saga: 0 }, refused: 0 });
  expect(await rowCounts(target)).toEqual(before);
  expect((await on(target)('db', 'check')).code).toBe(0);
});

/** The archive as version 1 wrote it: every null column written, and each saga's rows naming their saga. */
function asVersion1(text: string): string {
  const full = (table: keyof typeof ARCHIVE_COLUMNS, row: Record<string, unknown>, saga?: string) => ({
    ...Object.fromEntries(Object.keys(ARCHIVE_COLUMNS[table]).map((c) => [c, null])),
    ...(saga === undefined ? {} : { transaction_id: saga }),
    ...row,
  });
  return text.trimEnd().split('\n').map((line) => {
    const r = JSON.parse(line);
    if (r.type === 'header') r.version = 1;
    if (r.type === 'user') [r.user, r.ledger] = [full('users', r.user), r.ledger.map((l: object) => full('ledger', l))];
    if (r.type === 'item') [r.item, r.ledger] = [full('items', r.item), r.ledger.map((l: object) => full('ledger', l))];
    if (r.type === 'saga') {
      const id = r.saga.transaction_id;
      r.saga = full('saga_states', r.saga);
      for (const [key, table] of [['steps', 'saga_step_results'], ['logs', 'transaction_logs'], ['notifications', 'notifications'],
        ['events', 'saga_events'], ['audit', 'operator_audit'], ['ledger', 'ledger']] as const) {
        r[key] = r[key].map((row: object) => full(table, row, id));
      }
    }
    return JSON.stringify(r);
  }).join('\n') + '\n';
}

test('a version 1 archive (nulls written, rows naming their saga) reads as the same archive: importing it changes nothing', async () => {
  const v1 = path.join(dir, 'backup-v1.ndjson');
  const text = asVersion1(fs.readFileSync(archive, 'utf8'));
  expect(text).toContain('"version":1');
  expect(text).toContain('"error_message":null');
  fs.writeFileSync(v1, text);
  const before = await rowCounts(target);
  const again = await on(target)('saga', 'import', v1, '--json');
  expect(again.code).toBe(0);
  expect(JSON.parse(again.stdout)).toMatchObject({ imported: { user: 0, item: 0, saga: 0 }, refused: 0 });
  expect(await rowCounts(target)).toEqual(before);
});

test('a record that exists with other contents is refused (exit 3) and left as it is', async () => {
  const changed = path.join(dir, 'changed.ndjson');
  const text = fs.readFileSync(archive, 'utf8').split('\n').map((line) => {
    if (!line.includes('"real-rejected"')) return line;
    const record = JSON.parse(line);
    if (record.type !== 'saga') return line;
    record.saga.error_message = 'rewritten';
    return JSON.stringify(record);
  }).join('\n');
  fs.writeFileSync(changed, text);
  const r = await on(target)('saga', 'import', changed, '--json');
  expect(r.code).toBe(3);
  expect(JSON.parse(r.stdout)).toMatchObject({ refused: 1, refusedSample: [expect.objectContaining({ type: 'saga', id: 'real-rejected' })] });
  expect((await getSaga(target.db, 'real-rejected')).errorMessage).not.toBe('rewritten');
});

test('a malformed line stops the import at that line: exit 2 naming it, nothing from it on; --skip-bad goes on', async () => {
  const lines = fs.readFileSync(archive, 'utf8').trimEnd().split('\n');
  const sagaLines = lines.map((l, i) => [l, i + 1] as const).filter(([l]) => JSON.parse(l).type === 'saga');
  const [, badAt] = sagaLines[10];
  const broken = path.join(dir, 'broken.ndjson');
  const negative = (line: string) => {
    const record = JSON.parse(line);
    record.saga.quantity = -record.saga.quantity;
    return JSON.stringify(record);
  };
  fs.writeFileSync(broken, lines.map((l, i) => (i + 1 === badAt ? negative(l) : l)).join('\n') + '\n');
  const fresh = await createTestDb();
  try {
    const r = await on(fresh)('saga', 'import', broken);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`line ${badAt}: saga.quantity must be a positive integer`));
    const idAt = (n: number) => JSON.parse(lines[n - 1]).saga.transaction_id as string;
    const present = async (id: string) => (await fresh.db.query('SELECT 1 FROM saga_states WHERE transaction_id = $1', [id])).length === 1;
    expect(await present(idAt(sagaLines[9][1]))).toBe(true);
    expect(await present(idAt(badAt))).toBe(false);
    expect(await present(idAt(sagaLines[11][1]))).toBe(false);
    expect((await on(fresh)('db', 'check')).code).toBe(0);

    const skipping = await on(fresh)('saga', 'import', broken, '--skip-bad', '--json');
    expect(skipping.code).toBe(0);
    expect(JSON.parse(skipping.stdout)).toMatchObject({ badLines: 1, badSample: [{ line: badAt }], complete: true });
    expect(await present(idAt(sagaLines[11][1]))).toBe(true);
    expect((await on(fresh)('db', 'check')).code).toBe(0);
  } finally {
    await fresh.drop();
  }
}, 60_000);

test('a human reads the first 100 refusals and bad lines, then how many more', async () => {
  const lines = fs.readFileSync(archive, 'utf8').trimEnd().split('\n');
  let sagas = 0;
  const edited = lines.map((line) => {
    const record = JSON.parse(line);
    if (record.type !== 'saga') return line;
    sagas += 1;
    if (sagas <= 120) record.saga.error_message = 'rewritten';
    else if (sagas > 200 && sagas <= 305) record.saga.quantity = 0;
    return JSON.stringify(record);
  });
  const file = path.join(dir, 'many.ndjson');
  fs.writeFileSync(file, edited.join('\n') + '\n');
  const r = await on(target)('saga', 'import', file, '--skip-bad');
  expect(r.code).toBe(3);
  expect(r.stdout.match(/^refused, line \d+: /gm)).toHaveLength(100);
  expect(r.stdout).toContain('... and 20 more refused');
  expect(r.stdout.match(/^skipped, line \d+: saga.quantity must be a positive integer, got 0$/gm)).toHaveLength(100);
  expect(r.stdout).toContain('... and 5 more bad lines skipped');
  expect(await target.db.query(`SELECT 1 FROM saga_states WHERE error_message = 'rewritten'`)).toEqual([]);
}, 60_000);

test('a file cut short (no end record) imports what it holds and exits 2 saying so', async () => {
  const lines = fs.readFileSync(archive, 'utf8').trimEnd().split('\n');
  const cut = path.join(dir, 'cut.ndjson');
  fs.writeFileSync(cut, lines.slice(0, -1).join('\n') + '\n');
  const r = await on(target)('saga', 'import', cut);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/without its end record/);
});

test('csv: one flat row per saga, with a header; import says it reads ndjson only', async () => {
  const csv = path.join(dir, 'sagas.csv');
  expect((await on(source)('saga', 'export', '--format', 'csv', '--status', 'failed', '--output', csv)).code).toBe(0);
  const rows = fs.readFileSync(csv, 'utf8').trimEnd().split('\n');
  expect(rows[0]).toBe('transaction_id,status,mode,user_id,item_id,quantity,price,total,error_code,error_message,created_at,updated_at,completed_at,steps,last_step');
  const failed = (await source.db.query(`SELECT count(*)::int AS n FROM saga_states WHERE status = 'failed'`))[0].n;
  expect(rows.length - 1).toBe(failed);
  const r = await on(target)('saga', 'import', csv);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/line 1: .*import does not read --format csv/);
});

test('--output to a device is written in place, never renamed over (/dev/null stays a device)', async () => {
  const r = await on(source)('saga', 'export', '--status', 'failed', '--output', '/dev/null');
  expect(r.code).toBe(0);
  expect(fs.statSync('/dev/null').isCharacterDevice()).toBe(true);
  expect(fs.readdirSync('/dev').filter((f) => f.startsWith('.null.'))).toEqual([]);
});

test('--jobs 2 writes the same records as one job (in another order); a pool too small for it is refused, leaving no file', async () => {
  const one = path.join(dir, 'one.ndjson');
  const two = path.join(dir, 'two.ndjson');
  expect((await on(source)('saga', 'export', '--output', one)).code).toBe(0);
  expect((await on(source)('saga', 'export', '--jobs', '2', '--output', two)).code).toBe(0);
  const records = (file: string) => fs.readFileSync(file, 'utf8').trimEnd().split('\n').filter((l) => !l.startsWith('{"type":"header"')).sort();
  expect(records(two)).toEqual(records(one));
  const small = await runMain(['--pool', '1', 'saga', 'export', '--jobs', '2', '--output', path.join(dir, 'never.ndjson')], { DATABASE_URL: source.url });
  expect(small.code).toBe(2);
  expect(small.stderr).toMatch(/--jobs 2 needs a pool of at least 2/);
  expect(fs.readdirSync(dir).filter((f) => f.includes('never'))).toEqual([]);
});
