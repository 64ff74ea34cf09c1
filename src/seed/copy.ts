import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { from as copyFrom } from 'pg-copy-streams';
import { Db, Tx } from '../db/pool';
import { PG, pgCode } from '../db/pg-errors';
import { GenerateOptions, itemId, itemLine, sagaId, sagaLine, userId, userLine } from './generate';
import { resetStatsRollup } from '../stats/rollup';

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
    const written = await loadTable(db, table, count, (k) => line(opts, k), progress, counter);
    if (written > 0) await db.query(`ANALYZE ${table}`);
    inserted += written;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const rows = opts.users + opts.items + sagas;
  return { users: opts.users, items: opts.items, ...(opts.sagas === undefined ? {} : { sagas }), rows, inserted,
    skipped: rows - inserted, seconds, rowsPerSecond: Math.round(inserted / seconds) };
}

/** Loads one table's rows 1..count; returns how many were new. */
async function loadTable(db: Db, table: Table, count: number, line: (k: number) => string, progress: (n: number) => void,
  counter: { total: number }): Promise<number> {
  // Back-dated sagas land in minutes the statistics rollup may have folded: it starts over.
  const after = (tx: Tx) => (table === 'saga_states' ? resetStatsRollup(tx) : Promise.resolve());
  const existing = await countExisting(db, table, count);
  if (existing === count) {
    progress(count);
    return 0;
  }
  if (existing === 0) {
    try {
      await db.withTransaction(async (tx) => {
        await copyInto(tx, table, count, line, progress);
        await after(tx);
      });
      return count;
    } catch (err) {
      if (pgCode(err) !== PG.uniqueViolation) throw err;
      counter.total += count; // another run wrote some meanwhile: the rows go round again, the bar goes on
    }
  }
  return db.withTransaction(async (tx) => {
    const written = await upsertVia(tx, table, count, line, progress);
    await after(tx);
    return written;
  });
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
  const inserted = await tx.query(`INSERT INTO ${table} SELECT * FROM seed_staging ON CONFLICT (${TABLES[table].key}) DO NOTHING`);
  return inserted.rowCount ?? 0;
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
