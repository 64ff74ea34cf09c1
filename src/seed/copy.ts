import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { from as copyFrom } from 'pg-copy-streams';
import { Db, Tx } from '../db/pool';
import { PG, pgCode } from '../db/pg-errors';
import { GenerateOptions, generatedSaga, itemLine, sagaLine, userLine } from './generate';
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
    // Sagas come with their history; back-dated, they land in minutes the statistics rollup may
    // have folded: it starts over.
    const after = async (tx: Tx, fresh: boolean) => {
      if (table !== 'saga_states') return;
      await loadHistory(tx, opts, fresh);
      await resetStatsRollup(tx);
    };
    try {
      await db.withTransaction(async (tx) => {
        await declareSeed(tx);
        await copyInto(tx, table, count, (k) => line(opts, k), progress);
        await after(tx, true);
      });
    } catch (err) {
      if (pgCode(err) !== PG.uniqueViolation) throw err;
      done = before;
      skipped += await db.withTransaction(async (tx) => {
        await declareSeed(tx);
        const kept = await upsertVia(tx, table, count, (k) => line(opts, k), progress);
        await after(tx, false);
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
  // The new rows' keys are kept: only the history of sagas this run inserted is loaded.
  await tx.query('CREATE TEMP TABLE seed_new (key varchar(100) PRIMARY KEY) ON COMMIT DROP');
  const inserted = await tx.query(`WITH ins AS (INSERT INTO ${table} SELECT * FROM seed_staging ON CONFLICT (${TABLES[table].key}) DO NOTHING
                                              RETURNING ${TABLES[table].key} AS key)
                                   INSERT INTO seed_new SELECT key FROM ins`);
  return count - (inserted.rowCount ?? 0);
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
