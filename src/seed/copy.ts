import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { Db } from '../db/pool';
import { PG, pgCode } from '../db/pg-errors';
import { GenerateOptions, itemLine, userLine } from './generate';

const CHUNK_ROWS = 5_000;

export interface GenerateResult {
  users: number;
  items: number;
  rows: number;
  /** Rows that already existed and were kept (a re-run over the same seed). */
  skipped: number;
  seconds: number;
  rowsPerSecond: number;
}

const TABLES = {
  users: { columns: 'user_id, name, balance, status, purchase_limit', key: 'user_id' },
  items: { columns: 'item_id, name, price, stock, is_available', key: 'item_id' },
} as const;

/**
 * Loads generated rows with COPY in one transaction. A fresh table takes the rows straight;
 * if some already exist, COPY fails on the key and we retry through a temporary table and
 * INSERT ... ON CONFLICT DO NOTHING, keeping the existing rows.
 */
export async function generateRows(db: Db, opts: GenerateOptions, onProgress: (done: number) => void): Promise<GenerateResult> {
  const started = process.hrtime.bigint();
  let done = 0;
  const progress = (n: number) => onProgress((done += n));
  let skipped = 0;
  for (const [table, count, line] of [['users', opts.users, userLine], ['items', opts.items, itemLine]] as const) {
    if (count === 0) continue;
    const before = done;
    try {
      await db.withTransaction((tx) => copyInto(tx, table, count, (k) => line(opts, k), progress));
    } catch (err) {
      if (pgCode(err) !== PG.uniqueViolation) throw err;
      done = before;
      skipped += await db.withTransaction((tx) => upsertVia(tx, table, count, (k) => line(opts, k), progress));
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const rows = opts.users + opts.items;
  return { users: opts.users, items: opts.items, rows, skipped, seconds, rowsPerSecond: Math.round(rows / seconds) };
}

async function copyInto(tx: PoolClient, table: keyof typeof TABLES, count: number, line: (k: number) => string, progress: (n: number) => void) {
  const sink = tx.query(copyFrom(`COPY ${table} (${TABLES[table].columns}) FROM STDIN`));
  await pipeline(Readable.from(chunks(count, line, progress)), sink);
}

async function upsertVia(tx: PoolClient, table: keyof typeof TABLES, count: number, line: (k: number) => string, progress: (n: number) => void) {
  await tx.query(`CREATE TEMP TABLE seed_staging (LIKE ${table} INCLUDING DEFAULTS) ON COMMIT DROP`);
  const sink = tx.query(copyFrom(`COPY seed_staging (${TABLES[table].columns}) FROM STDIN`));
  await pipeline(Readable.from(chunks(count, line, progress)), sink);
  const inserted = await tx.query(`INSERT INTO ${table} SELECT * FROM seed_staging ON CONFLICT (${TABLES[table].key}) DO NOTHING`);
  return count - (inserted.rowCount ?? 0);
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
