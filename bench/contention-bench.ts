import crypto from 'node:crypto';
import { createDb, createPool, Db } from '../src/db/pool';
import { loadMigrations } from '../src/migrate/loader';
import { runUp } from '../src/migrate/runner';
import { DEFAULT_LEASE_MS, DEFAULT_LOCK_TIMEOUT_MS, leaseOwner } from '../src/saga/engine';
import { runLoad } from '../src/saga/load';
import { SagaRunner } from '../src/saga/service';
import { MODES } from '../src/saga/types';
import { admin, urlFor } from './support';

/**
 * npm run bench:contention [-- --database-url URL] [--json]
 *
 * The product's contention targets, timed: 1,000 purchases at once by one user whose balance pays
 * for exactly 300 (expect 300 completed, balance 0.00), and 1,000 at once of one item with stock
 * 300 by 100 buyers (expect 300 completed, stock 0, every other debit refunded). Under 0.5 s each
 * with group execution (issue 13); `--no-batch` runs them one saga per statement, for comparison.
 */
export const RACE_TARGET_SECONDS = 0.5;
const base = process.argv.includes('--database-url')
  ? process.argv[process.argv.indexOf('--database-url') + 1]
  : process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const json = process.argv.includes('--json');
const noBatch = process.argv.includes('--no-batch');

/** One 1,000-way race on a fresh pair of tables; exact or not, and how long it took. */
export async function race(db: Db, mode: (typeof MODES)[number], kind: 'user' | 'item', grouping = true) {
  await db.query('TRUNCATE saga_events, saga_step_results, notifications, transaction_logs, saga_states, users, items');
  if (kind === 'user') {
    await db.query(`INSERT INTO users (user_id, name, balance) VALUES ('buyer', 'Buyer', 300.00)`);
    await db.query(`INSERT INTO items (item_id, name, price, stock) VALUES ('thing', 'Thing', 1.00, 1000000)`);
  } else {
    await db.query(`INSERT INTO users (user_id, name, balance) SELECT 'buyer-' || k, 'Buyer', 1000000.00 FROM generate_series(1, 100) k`);
    await db.query(`INSERT INTO items (item_id, name, price, stock) VALUES ('thing', 'Thing', 2.50, 300)`);
  }
  const runner = new SagaRunner({ db, owner: leaseOwner(), leaseMs: DEFAULT_LEASE_MS, lockTimeoutMs: DEFAULT_LOCK_TIMEOUT_MS, grouping });
  const r = await runLoad(db, runner, { count: 1000, concurrency: 1000, mode, quantity: 1, seed: 1,
    userId: kind === 'user' ? 'buyer' : undefined, itemId: 'thing' }, () => undefined);
  const [state] = await db.query(`SELECT (SELECT sum(balance)::text FROM users) AS balances, (SELECT stock FROM items) AS stock`);
  const expectedBalances = kind === 'user' ? '0.00' : '99999250.00';
  const correct = r.completed === 300 && r.unfinished === 0 && state.balances === expectedBalances && state.stock === (kind === 'user' ? 999700 : 0);
  return { scenario: `one ${kind}, ${mode}${grouping ? '' : ', no batch'}`, seconds: r.wallSeconds, completed: r.completed, compensated: r.compensated,
    failed: r.failed, balances: state.balances, stock: state.stock, correct, pass: correct && r.wallSeconds < RACE_TARGET_SECONDS };
}

async function main(): Promise<void> {
  const name = `sagactl_bench_${crypto.randomBytes(4).toString('hex')}`;
  await admin(base, `CREATE DATABASE ${name}`);
  const url = urlFor(base, name);
  const pool = createPool(url, 10, 'sagactl-bench-contention', 5000);
  const db = createDb(pool, url);
  const rows = [];
  try {
    await runUp({ db, migrations: loadMigrations(), lockTimeoutMs: 10_000, log: () => undefined });
    for (const kind of ['user', 'item'] as const) for (const mode of MODES) rows.push(await race(db, mode, kind, !noBatch));
  } finally {
    await pool.end();
    await admin(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
  if (json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else {
    process.stdout.write(`scenario                      seconds  completed  compensated  failed  correct  < ${RACE_TARGET_SECONDS} s\n`);
    for (const r of rows) {
      process.stdout.write(`${r.scenario.padEnd(28)}  ${r.seconds.toFixed(3).padStart(7)}  ${String(r.completed).padStart(9)}  ` +
        `${String(r.compensated).padStart(11)}  ${String(r.failed).padStart(6)}  ${r.correct ? 'yes' : 'NO '}      ${r.pass ? 'PASS' : 'FAIL'}\n`);
    }
  }
  process.exitCode = rows.every((r) => r.pass) ? 0 : 1;
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`bench:contention: ${err.stack ?? err}\n`);
    process.exit(1);
  });
}
