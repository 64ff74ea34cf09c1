import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { from as copyFrom } from 'pg-copy-streams';
import { Db, Tx } from '../db/pool';
import { PG, pgCode } from '../db/pg-errors';
import { GenerateOptions, itemLine, sagaLine, userLine } from './generate';
import { resetStatsRollup } from '../stats/rollup';
import { declareSeed } from './fixtures';

const CHUNK_ROWS = 5_000;

export interface GenerateResult {
  users: number;
  items: number;
  rows: number;
  /** Present when sagas were asked for. */
  sagas?: number;
  /** Rows that already existed and were kept (a re-run over the same seed). */
  skipped: number;
  seconds: number;
  rowsPerSecond: number;
}

const TABLES = {
  users: { columns: 'user_id, name, balance, status, purchase_limit', key: 'user_id' },
  items: { columns: 'item_id, name, price, stock, is_available', key: 'item_id' },
  saga_states: {
    columns: 'transaction_id, status, user_id, item_id, quantity, price, mode, created_at, updated_at, completed_at, ' +
      'error_code, error_message, lease_owner, lease_expires_at',
    key: 'transaction_id',
  },
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
  const sagas = opts.sagas ?? 0;
  const plan = [['users', opts.users, userLine], ['items', opts.items, itemLine], ['saga_states', sagas, sagaLine]] as const;
  for (const [table, count, line] of plan) {
    if (count === 0) continue;
    const before = done;
    // Back-dated sagas land in minutes the statistics rollup may have folded: it starts over.
    const after = (tx: Tx) => (table === 'saga_states' ? resetStatsRollup(tx) : Promise.resolve());
    try {
      await db.withTransaction(async (tx) => {
        await declareSeed(tx);
        await copyInto(tx, table, count, (k) => line(opts, k), progress);
        await after(tx);
      });
    } catch (err) {
      if (pgCode(err) !== PG.uniqueViolation) throw err;
      done = before;
      skipped += await db.withTransaction(async (tx) => {
        await declareSeed(tx);
        const kept = await upsertVia(tx, table, count, (k) => line(opts, k), progress);
        await after(tx);
        return kept;
      });
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const rows = opts.users + opts.items + sagas;
  return { users: opts.users, items: opts.items, ...(opts.sagas === undefined ? {} : { sagas }), rows, skipped, seconds,
    rowsPerSecond: Math.round(rows / seconds) };
}

async function copyInto(tx: Tx, table: keyof typeof TABLES, count: number, line: (k: number) => string, progress: (n: number) => void) {
  const sink = tx.client.query(copyFrom(`COPY ${table} (${TABLES[table].columns}) FROM STDIN`));
  await pipeline(Readable.from(chunks(count, line, progress)), sink);
}

async function upsertVia(tx: Tx, table: keyof typeof TABLES, count: number, line: (k: number) => string, progress: (n: number) => void) {
  await tx.query(`CREATE TEMP TABLE seed_staging (LIKE ${table} INCLUDING DEFAULTS) ON COMMIT DROP`);
  const sink = tx.client.query(copyFrom(`COPY seed_staging (${TABLES[table].columns}) FROM STDIN`));
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
