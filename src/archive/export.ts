import { Db, Tx } from '../db/pool';
import { UsageError } from '../errors';
import { filterJson, isEmptyFilter, sagaWhere, SagaFilter, Where } from '../saga/filter';
import { ARCHIVE_FORMAT, ARCHIVE_VERSION, CSV_COLUMNS, csvLine, ITEM_RECORD_SQL, SAGA_CSV_SQL, sagaLinesSql, USER_RECORD_SQL } from './format';

/**
 * `saga export`: the sagas a filter selects, with everything they wrote, streamed. One
 * REPEATABLE READ snapshot makes the file consistent (balances, ledger and sagas of one instant)
 * while the system keeps running; a server-side cursor hands the lines over FETCH_ROWS at a
 * time, each line built by the server, so memory stays flat whatever the number of sagas.
 */
// A page of a few hundred lines (under a megabyte) keeps each chunk out of V8's large-object space.
const FETCH_ROWS = 250;

export type ExportFormat = 'ndjson' | 'csv';

export interface ExportOptions {
  filter: SagaFilter;
  format: ExportFormat;
  /** Takes the next chunk of text; a promise when the sink wants the export to wait (backpressure). */
  write: (text: string) => void | Promise<void>;
  /** Sagas written so far, of how many. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Connections building saga lines at once, each on its share of the sagas, all in the same
   * snapshot (as pg_dump --jobs does): 1 by default, so an export never takes more than one core
   * of a live server unless asked. Needs a pool of more connections than jobs.
   */
  jobs?: number;
}

export interface ExportResult {
  format: ExportFormat;
  users: number;
  items: number;
  sagas: number;
  bytes: number;
  seconds: number;
}

export async function exportSagas(db: Db, opts: ExportOptions): Promise<ExportResult> {
  const started = process.hrtime.bigint();
  const max = db.pool.options.max ?? 10;
  // Waiting for a connection of the pool while holding one would never end.
  if ((opts.jobs ?? 1) > max) throw new UsageError(`--jobs ${opts.jobs} needs a pool of at least ${opts.jobs} connections (it has ${max}): raise --pool.`);
  const where = await sagaWhere(db, opts.filter);
  let bytes = 0;
  const write = (text: string) => {
    bytes += Buffer.byteLength(text);
    return opts.write(text);
  };
  const counts = await db.withTransaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    // JIT compiling the export's wide expressions costs more than it saves, and delays the first line.
    await tx.query('SET LOCAL jit = off');
    // Every line is read: plan the cursor for the whole result (one pass per table), not for its first rows.
    await tx.query('SET LOCAL cursor_tuple_fraction = 1');
    const { rows: [{ n }] } = await tx.query(`SELECT count(*)::bigint::text AS n FROM saga_states s WHERE ${where.sql}`, where.params);
    const total = Number(n);
    const progress = (done: number) => opts.onProgress?.(done, total);
    if (opts.format === 'csv') {
      await write(csvLine([...CSV_COLUMNS]));
      const sagas = await streamLines(tx, `SELECT ${SAGA_CSV_SQL} FROM saga_states s WHERE ${where.sql}`, where.params,
        (r: { row: (string | null)[] }) => csvLine(r.row), write, progress);
      return { users: 0, items: 0, sagas };
    }
    return writeNdjson(db, tx, { ...opts, write }, where, progress);
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { format: opts.format, ...counts, bytes, seconds };
}

async function writeNdjson(db: Db, tx: Tx, opts: ExportOptions, where: Where, progress: (done: number) => void) {
  const { filter, write } = opts;
  const { rows: [{ at }] } = await tx.query(`SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at`);
  await write(`${JSON.stringify({ type: 'header', format: ARCHIVE_FORMAT, version: ARCHIVE_VERSION, exportedAt: at, filter: filterJson(filter) })}\n`);
  const line = (r: { line: string }) => `${r.line}\n`;
  const none = () => undefined;
  // A whole-database export keeps every account, also those no saga touched: it is a backup.
  const all = isEmptyFilter(filter);
  const touched = (column: string, alias: string) => (all ? '' : ` WHERE EXISTS (SELECT 1 FROM saga_states s WHERE s.${column} = ${alias}.${column} AND ${where.sql})`);
  const params = all ? [] : where.params;
  const users = await streamLines(tx, `SELECT ${USER_RECORD_SQL} AS line FROM users u${touched('user_id', 'u')}`, params, line, write, none);
  const items = await streamLines(tx, `SELECT ${ITEM_RECORD_SQL} AS line FROM items i${touched('item_id', 'i')}`, params, line, write, none);
  const jobs = opts.jobs ?? 1;
  const sagas = jobs === 1 ? await streamLines(tx, sagaLinesSql(where.sql), where.params, line, write, progress)
    : await streamInParallel(db, tx, jobs, where, line, write, progress);
  await write(`${JSON.stringify({ type: 'end', users, items, sagas })}\n`);
  return { users, items, sagas };
}

/** Runs `sql` as a cursor in `tx`, writing each fetched page as one chunk; returns the rows written. */
export async function streamLines<R>(tx: Tx, sql: string, params: unknown[], format: (row: R) => string,
  write: (text: string) => void | Promise<void>, progress: (done: number) => void): Promise<number> {
  await tx.query(`DECLARE archive_cursor NO SCROLL CURSOR FOR ${sql}`, params);
  let done = 0;
  for (;;) {
    const { rows } = await tx.query(`FETCH FORWARD ${FETCH_ROWS} FROM archive_cursor`);
    if (rows.length === 0) break;
    let chunk = '';
    for (const row of rows) chunk += format(row);
    await write(chunk);
    done += rows.length;
    progress(done);
  }
  await tx.query('CLOSE archive_cursor');
  return done;
}

/**
 * The saga lines from `jobs` connections at once, each taking the sagas whose id hashes to its
 * number, each in the snapshot of `tx` (pg_export_snapshot), so together they write exactly what
 * one cursor would, in another order. Each page is written whole: lines never interleave.
 */
async function streamInParallel(db: Db, tx: Tx, jobs: number, query: Where, format: (row: { line: string }) => string,
  write: (text: string) => void | Promise<void>, progress: (done: number) => void): Promise<number> {
  const { rows: [{ snapshot }] } = await tx.query('SELECT pg_export_snapshot() AS snapshot');
  // SET TRANSACTION SNAPSHOT takes no parameter; the id is the server's own, checked to be only that.
  if (!/^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$/i.test(snapshot)) throw new Error(`unexpected snapshot id ${JSON.stringify(snapshot)}`);
  const done = new Array<number>(jobs).fill(0);
  const n = query.params.length;
  const share = (worker: Tx, job: number) => streamLines(worker,
    sagaLinesSql(`${query.sql} AND (hashtext(s.transaction_id) & 2147483647) % $${n + 1}::int = $${n + 2}::int`), [...query.params, jobs, job], format, write,
    (d) => {
      done[job] = d;
      progress(done.reduce((a, b) => a + b, 0));
    });
  // The exporting transaction takes the first share itself; each other share gets a connection of its own.
  const counts = await Promise.all(done.map((_zero, job) => (job === 0 ? share(tx, 0) : db.withTransaction(async (worker) => {
    await worker.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    await worker.query(`SET TRANSACTION SNAPSHOT '${snapshot}'`);
    await worker.query('SET LOCAL jit = off');
    await worker.query('SET LOCAL cursor_tuple_fraction = 1');
    return share(worker, job);
  }))));
  return counts.reduce((a, b) => a + b, 0);
}
