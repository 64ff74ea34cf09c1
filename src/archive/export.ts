import { Db, Tx } from '../db/pool';
import { UsageError } from '../errors';
import { filterJson, isEmptyFilter, sagaWhere, SagaFilter, Where } from '../saga/filter';
import { bindForCopy, copyOut, LINES, Write } from './copy-out';
import { ARCHIVE_FORMAT, ARCHIVE_VERSION, ITEM_RECORD_SQL, SAGA_CSV_SQL, sagaLinesSql, USER_RECORD_SQL } from './format';

/**
 * `saga export`: the sagas a filter selects, with everything they wrote, streamed. One
 * REPEATABLE READ snapshot makes the file consistent (balances, ledger and sagas of one instant)
 * while the system keeps running; each line is built by the server and sent by COPY, so memory
 * stays flat whatever the number of sagas.
 */
export type ExportFormat = 'ndjson' | 'csv';

export interface ExportOptions {
  filter: SagaFilter;
  format: ExportFormat;
  /** Takes the next chunk; a promise when the sink wants the export to wait (backpressure). */
  write: Write;
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
  const write: Write = (chunk) => {
    bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    return opts.write(chunk);
  };
  const counts = await db.withTransaction(async (tx) => {
    await begin(tx);
    const { rows: [{ n }] } = await tx.query(`SELECT count(*)::bigint::text AS n FROM saga_states s WHERE ${where.sql}`, where.params);
    const total = Number(n);
    const progress = (done: number) => opts.onProgress?.(done, total);
    if (opts.format === 'csv') {
      // COPY's own CSV (RFC 4180 quoting, the header from the columns' names); a null is an empty field.
      const sql = `COPY (SELECT ${SAGA_CSV_SQL} FROM saga_states s WHERE ${await bindForCopy(tx, where)}) TO STDOUT WITH (FORMAT csv, HEADER)`;
      const sagas = await copyOut(db, tx, sql, write, { onRows: (rows) => progress(Math.max(0, rows - 1)) });
      return { users: 0, items: 0, sagas };
    }
    return writeNdjson(db, tx, { ...opts, write }, where, progress);
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { format: opts.format, ...counts, bytes, seconds };
}

/** The export's transaction settings, for the exporting connection and each job's. */
async function begin(tx: Tx): Promise<void> {
  // JIT compiling the export's wide expressions costs more than it saves, and delays the first line.
  // No parallel workers: a job takes one core of the server (--jobs says how many), as documented.
  await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0');
}

async function writeNdjson(db: Db, tx: Tx, opts: ExportOptions, where: Where, progress: (done: number) => void) {
  const { filter, write } = opts;
  const { rows: [{ at }] } = await tx.query(`SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at`);
  await write(`${JSON.stringify({ type: 'header', format: ARCHIVE_FORMAT, version: ARCHIVE_VERSION, exportedAt: at, filter: filterJson(filter) })}\n`);
  const selected = await bindForCopy(tx, where);
  const lines = (sql: string) => `COPY (${sql}) TO STDOUT ${LINES}`;
  // A whole-database export keeps every account, also those no saga touched: it is a backup.
  const all = isEmptyFilter(filter);
  const touched = (column: string, alias: string) => (all ? '' : ` WHERE EXISTS (SELECT 1 FROM saga_states s WHERE s.${column} = ${alias}.${column} AND ${selected})`);
  const users = await copyOut(db, tx, lines(`SELECT ${USER_RECORD_SQL} FROM users u${touched('user_id', 'u')}`), write);
  const items = await copyOut(db, tx, lines(`SELECT ${ITEM_RECORD_SQL} FROM items i${touched('item_id', 'i')}`), write);
  // A child row belongs to a selected saga: for a whole database, every child row does.
  const children = (column: string) => (all ? 'TRUE' : `${column} IN (SELECT s.transaction_id FROM saga_states s WHERE ${selected})`);
  const jobs = opts.jobs ?? 1;
  const sagas = jobs === 1 ? await copyOut(db, tx, lines(sagaLinesSql(selected, children)), write, { onRows: progress })
    : await copyInParallel(db, tx, jobs, where, children, write, progress);
  await write(`${JSON.stringify({ type: 'end', users, items, sagas })}\n`);
  return { users, items, sagas };
}

/**
 * The saga lines from `jobs` connections at once, each taking one range of saga ids, each in the
 * snapshot of `tx` (pg_export_snapshot), so together they write exactly what one COPY would, in
 * another order. Ranges, not hashes: a range keeps each job's plan the single-job one (merge joins
 * along the transaction_id indexes), where a hash condition defeated the planner's estimates and
 * made each half slower than the whole. Each job hands over whole lines only: lines never interleave.
 */
async function copyInParallel(db: Db, tx: Tx, jobs: number, where: Where, children: (column: string) => string, write: Write,
  progress: (done: number) => void): Promise<number> {
  const bounds = await splitPoints(tx, where, jobs);
  const { rows: [{ snapshot }] } = await tx.query('SELECT pg_export_snapshot() AS snapshot');
  // SET TRANSACTION SNAPSHOT takes no parameter; the id is the server's own, checked to be only that.
  if (!/^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$/i.test(snapshot)) throw new Error(`unexpected snapshot id ${JSON.stringify(snapshot)}`);
  const done = new Array<number>(bounds.length + 1).fill(0);
  const share = async (worker: Tx, job: number) => {
    const selected = await bindForCopy(worker, where);
    const range = await idRange(worker, bounds[job - 1], bounds[job]);
    // The range goes on each child table too, so each reads only its share of their indexes.
    const sql = `COPY (${sagaLinesSql(`${selected} AND ${range('s.transaction_id')}`, (c) => `${children(c)} AND ${range(c)}`)}) TO STDOUT ${LINES}`;
    return copyOut(db, worker, sql, write, {
      wholeLines: true,
      onRows: (rows) => {
        done[job] = rows;
        progress(done.reduce((a, b) => a + b, 0));
      },
    });
  };
  // The exporting transaction takes the first share itself; each other share gets a connection of its own.
  const counts = await Promise.all(done.map((_zero, job) => (job === 0 ? share(tx, 0) : db.withTransaction(async (worker) => {
    await begin(worker);
    await worker.query(`SET TRANSACTION SNAPSHOT '${snapshot}'`);
    return share(worker, job);
  }))));
  return counts.reduce((a, b) => a + b, 0);
}

/**
 * Saga ids from `from` (included) to `to` (excluded), either end open, as a condition on any
 * transaction_id column. The bounds are set as settings, as FILTERS' values are (bindForCopy).
 */
async function idRange(tx: Tx, from: string | undefined, to: string | undefined): Promise<(column: string) => string> {
  await tx.query(`SELECT set_config('sagactl.from', $1::text, true), set_config('sagactl.to', $2::text, true)`, [from ?? '', to ?? '']);
  return (column) => [from === undefined ? 'TRUE' : `${column} >= current_setting('sagactl.from')`,
    to === undefined ? 'TRUE' : `${column} < current_setting('sagactl.to')`].join(' AND ');
}

/**
 * Up to jobs - 1 saga ids that cut the selection into ranges of about equal size: quantiles of a
 * sample of some 20,000 sagas (TABLESAMPLE SYSTEM), not of the whole table, which would cost a
 * sort of every id before the first line. A small selection may give fewer ranges than jobs.
 */
async function splitPoints(tx: Tx, where: Where, jobs: number): Promise<string[]> {
  const fractions = Array.from({ length: jobs - 1 }, (_x, i) => (i + 1) / jobs);
  const n = where.params.length;
  const { rows: [{ bounds }] } = await tx.query(
    `SELECT percentile_disc($${n + 1}::float8[]) WITHIN GROUP (ORDER BY s.transaction_id) AS bounds
       FROM saga_states s TABLESAMPLE SYSTEM ((SELECT CASE WHEN c.reltuples > 20000 THEN 2e6 / c.reltuples ELSE 100 END
                                                FROM pg_class c WHERE c.oid = 'saga_states'::regclass))
      WHERE ${where.sql}`, [...where.params, fractions]);
  return [...new Set((bounds ?? []) as string[])];
}
