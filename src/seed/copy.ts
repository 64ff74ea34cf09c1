import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { from as copyFrom } from 'pg-copy-streams';
import { Db, Tx } from '../db/pool';
import { PG, pgCode } from '../db/pg-errors';
import { GenerateOptions, generatedSaga, itemId, itemLine, sagaId, sagaLine, userId, userLine } from './generate';
import { HISTORY_COLUMNS, historyOf, HistoryTable } from './history';
import { resetStatsRollup } from '../stats/rollup';
import { declareSeed } from './fixtures';

const CHUNK_ROWS = 5_000;

export interface GenerateResult {
  users: number;
  items: number;
  rows: number;
  /** Present when sagas were asked for. */
  sagas?: number;
  /** Rows written by this run. */
  inserted: number;
  /** Rows that already existed and were kept (a re-run over the same seed). */
  skipped: number;
  seconds: number;
  /** Rows written per second (existing rows cost almost nothing and are not counted). */
  rowsPerSecond: number;
}

const TABLES = {
  users: { columns: 'user_id, name, balance, status, purchase_limit', key: 'user_id', id: userId, digits: 7 },
  items: { columns: 'item_id, name, price, stock, is_available', key: 'item_id', id: itemId, digits: 6 },
  saga_states: {
    columns: 'transaction_id, status, user_id, item_id, quantity, price, mode, created_at, updated_at, completed_at, ' +
      'error_code, error_message, lease_owner, lease_expires_at',
    key: 'transaction_id',
    id: sagaId,
    digits: 10,
  },
} as const;

type Table = keyof typeof TABLES;

/** Rows processed so far, and in all: the total grows if a table has to be loaded a second way. */
export type GenerateProgress = (done: number, total: number) => void;

/**
 * Loads generated rows with COPY, one transaction per table. Generated rows already there are
 * counted first: none, and COPY takes the rows straight; all, and the table is left alone; some
 * (or a concurrent run got there first), and the rows go through a temporary table and
 * INSERT ... ON CONFLICT DO NOTHING, keeping the existing rows. The tables that got rows are
 * ANALYZEd, so the planner's estimates (saga list's count, db health's rows) are right at once.
 */
export async function generateRows(db: Db, opts: GenerateOptions, onProgress: GenerateProgress): Promise<GenerateResult> {
  const started = process.hrtime.bigint();
  const sagas = opts.sagas ?? 0;
  const plan = [['users', opts.users, userLine], ['items', opts.items, itemLine], ['saga_states', sagas, sagaLine]] as const;
  const counter = { done: 0, total: opts.users + opts.items + sagas };
  const progress = (n: number) => onProgress((counter.done += n), counter.total);
  let inserted = 0;
  for (const [table, count, line] of plan) {
    if (count === 0) continue;
    inserted += await loadTable(db, opts, table, count, (k) => line(opts, k), progress, counter);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const rows = opts.users + opts.items + sagas;
  return { users: opts.users, items: opts.items, ...(opts.sagas === undefined ? {} : { sagas }), rows, inserted,
    skipped: rows - inserted, seconds, rowsPerSecond: Math.round(inserted / seconds) };
}

/**
 * Loads one table's rows 1..count (sagas with their history); returns how many were new. The
 * tables that got rows are ANALYZEd once committed.
 */
async function loadTable(db: Db, opts: GenerateOptions, table: Table, count: number, line: (k: number) => string,
  progress: (n: number) => void, counter: { total: number }): Promise<number> {
  // Sagas come with their history; back-dated, they land in minutes the statistics rollup may
  // have folded: it starts over.
  const after = async (tx: Tx, fresh: boolean) => {
    if (table !== 'saga_states') return;
    await loadHistory(tx, opts, fresh);
    await resetStatsRollup(tx);
  };
  const existing = await countExisting(db, table, count);
  if (existing === count) {
    progress(count);
    return 0;
  }
  let written: number | undefined;
  if (existing === 0) {
    try {
      await db.withTransaction(async (tx) => {
        await declareSeed(tx);
        await copyInto(tx, table, count, line, progress);
        await after(tx, true);
      });
      written = count;
    } catch (err) {
      if (pgCode(err) !== PG.uniqueViolation) throw err;
      counter.total += count; // another run wrote some meanwhile: the rows go round again, the bar goes on
    }
  }
  written ??= await db.withTransaction(async (tx) => {
    await declareSeed(tx);
    const n = await upsertVia(tx, table, count, line, progress);
    await after(tx, false);
    return n;
  });
  if (written > 0) await analyze(db, table);
  return written;
}

/** Users, items and sagas move the ledger (its triggers, or a saga's history): it is analyzed with them. */
async function analyze(db: Db, table: Table): Promise<void> {
  const tables = table === 'saga_states' ? [table, ...Object.keys(HISTORY_COLUMNS)] : [table, 'ledger'];
  for (const t of new Set(tables)) await db.query(`ANALYZE ${t}`);
}

/** How many of the generated ids 1..count exist: a range scan of the primary key. */
async function countExisting(db: Db, table: Table, count: number): Promise<number> {
  const t = TABLES[table];
  const prefix = t.id(1).slice(0, -t.digits);
  const rows = await db.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${t.key} BETWEEN $1 AND $2 AND ${t.key} ~ $3`,
    [t.id(1), t.id(count), `^${prefix}[0-9]{${t.digits}}$`]);
  return rows[0].n;
}

async function copyInto(tx: Tx, table: Table, count: number, line: (k: number) => string, progress: (n: number) => void) {
  const sink = tx.client.query(copyFrom(`COPY ${table} (${TABLES[table].columns}) FROM STDIN`));
  await pipeline(Readable.from(chunks(count, line, progress)), sink);
}

async function upsertVia(tx: Tx, table: Table, count: number, line: (k: number) => string, progress: (n: number) => void) {
  await tx.query(`CREATE TEMP TABLE seed_staging (LIKE ${table} INCLUDING DEFAULTS) ON COMMIT DROP`);
  const sink = tx.client.query(copyFrom(`COPY seed_staging (${TABLES[table].columns}) FROM STDIN`));
  await pipeline(Readable.from(chunks(count, line, progress)), sink);
  // The new rows' keys are kept: only the history of sagas this run inserted is loaded.
  await tx.query('CREATE TEMP TABLE seed_new (key varchar(100) PRIMARY KEY) ON COMMIT DROP');
  const inserted = await tx.query(`WITH ins AS (INSERT INTO ${table} SELECT * FROM seed_staging ON CONFLICT (${TABLES[table].key}) DO NOTHING
                                              RETURNING ${TABLES[table].key} AS key)
                                   INSERT INTO seed_new SELECT key FROM ins`);
  return inserted.rowCount ?? 0;
}

/**
 * The generated sagas' history (src/seed/history.ts): step records, logs, notifications, outbox
 * events and ledger movements, by COPY, straight into the tables when every saga is new, else
 * through staging for the sagas this run inserted. Then each account touched gets one `seed`
 * entry that takes its generated movements back: the sagas are history written after the fact,
 * so every balance and stock stays what was seeded, and the ledger still adds up to it.
 */
async function loadHistory(tx: Tx, opts: GenerateOptions, fresh: boolean): Promise<void> {
  const count = opts.sagas ?? 0;
  const { rows: [{ xact }] } = await tx.query('SELECT pg_current_xact_id()::text AS xact');
  for (const table of Object.keys(HISTORY_COLUMNS) as HistoryTable[]) {
    const line = (k: number) => historyOf(generatedSaga(opts, k), table, xact);
    const columns = HISTORY_COLUMNS[table];
    if (fresh) {
      await pipeline(Readable.from(chunks(count, line, () => undefined)), tx.client.query(copyFrom(`COPY ${table} (${columns}) FROM STDIN`)));
      continue;
    }
    await tx.query(`CREATE TEMP TABLE seed_history ON COMMIT DROP AS SELECT ${columns} FROM ${table} WITH NO DATA`);
    await pipeline(Readable.from(chunks(count, line, () => undefined)), tx.client.query(copyFrom(`COPY seed_history (${columns}) FROM STDIN`)));
    await tx.query(`INSERT INTO ${table} (${columns}) SELECT ${columns} FROM seed_history WHERE transaction_id IN (SELECT key FROM seed_new)`);
    await tx.query('DROP TABLE seed_history');
  }
  await tx.query(`INSERT INTO ledger (at, xact, db_user, application, account, account_id, delta, source)
    SELECT now(), $1::bigint, session_user, 'sagactl seed generate', account, account_id, -sum(delta), 'seed'
      FROM ledger WHERE xact = $1::bigint AND source = 'saga' GROUP BY account, account_id HAVING sum(delta) <> 0`, [xact]);
}

function* chunks(count: number, line: (k: number) => string, progress: (n: number) => void): Generator<string> {
  for (let start = 1; start <= count; start += CHUNK_ROWS) {
    const end = Math.min(count, start + CHUNK_ROWS - 1);
    let text = '';
    for (let k = start; k <= end; k++) text += line(k);
    yield text;
    progress(end - start + 1);
  }
}
