import 'reflect-metadata';
import os from 'node:os';
import crypto from 'node:crypto';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { maskUrl } from '../src/config';
import { createDataSource } from '../src/db/data-source';
import { applicationName, createDb, createPool, Db } from '../src/db/pool';
import { loadMigrations } from '../src/migrate/loader';
import { runUp } from '../src/migrate/runner';
import { generateRows } from '../src/seed/copy';
import { createSagaClient, SagaClient } from '../src/client';
import { LoadResult, Purchaser, runLoad } from '../src/saga/load';
import { SagaMode } from '../src/saga/types';
import { NaiveTypeormPurchaser } from './naive-typeorm';
import { PgbenchLimit } from './pgbench';
import { race, RACE_TARGET_SECONDS } from './contention-bench';
import { urlFor, admin, benchArgs, DEFAULT_SERVER } from './support';

/**
 * npm run bench:saga [-- --count N] [--rounds R] [--database-url URL] [--json]
 *
 * Side by side in one run, on databases of their own (100 users, 10 items, quantity 1):
 * - the limit for one saga per statement: pgbench running the saga's SQL (bench/pgbench.ts), at 32;
 * - the engine with group execution (the default) and without (`grouping: false`), orchestration
 *   and choreography, at concurrency 1, 32 and 256; rounds at 32 alternate with pgbench's and the
 *   median of each is kept;
 * - the library called in-process by a program (`createSagaClient(...).purchase`, which reads
 *   the saga back; `purchaseOutcome`, which does not), and the CLI (`sagactl saga load`, a process);
 * - the naive TypeORM saga of the design's style (bench/naive-typeorm.ts);
 * - the 1,000-way races on one user and on one item (bench/contention-bench.ts).
 * Prints sagas/s, latencies, ratios, and PASS/FAIL against product.md and issue 13's targets.
 */
const POOL = 10; // the engine's pool on 2 cores; a pool of 32 was slower (stack.md)
const SAGA_TABLES = 'saga_events, saga_step_results, notifications, transaction_logs, saga_states';
const execute = promisify(execFile);

interface Args { baseUrl: string; count: number; rounds: number; json: boolean }

const USAGE = 'usage: npm run bench:saga -- [--count N (8000)] [--rounds R (3)] [--database-url URL] [--json]';

function parseArgs(argv: string[]): Args {
  return benchArgs<Args>('saga', USAGE, argv, { baseUrl: DEFAULT_SERVER, count: 8000, rounds: 3, json: false },
    { '--database-url': ['baseUrl', 'text'], '--count': ['count', [100]], '--rounds': ['rounds', [1]], '--json': ['json', 'switch'] });
}

interface Row { name: string; sagasPerSecond: number; p50?: number; p95?: number; count: number; note?: string }

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n: number | undefined, d = 2) => (n === undefined ? '-' : n.toFixed(d));

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const tag = crypto.randomBytes(4).toString('hex');
  const dbName = `sagactl_bench_${tag}`;
  const url = urlFor(args.baseUrl, dbName);
  const say = (text: string) => process.stderr.write(`${text}\n`);
  say(`bench:saga: database ${maskUrl(url)}`);
  await admin(args.baseUrl, `CREATE DATABASE ${dbName}`);
  const pgbench = new PgbenchLimit(args.baseUrl, `sagactl_pgb_${tag}`);
  const pool = createPool(url, POOL, applicationName('bench-saga'), 5000);
  const db = createDb(pool, url);
  const ds = createDataSource(url, applicationName('bench-saga-naive'), POOL);
  const clients: SagaClient[] = [];
  try {
    await runUp({ db, migrations: loadMigrations(), lockTimeoutMs: 10_000, log: () => undefined });
    await generateRows(db, { users: 100, items: 10, seed: 1, balance: '99999999.99', stock: 1_000_000_000 }, () => undefined);
    await pgbench.setup();
    await ds.initialize();
    const client = (grouping: boolean) => {
      const c = createSagaClient({ pool, grouping });
      clients.push(c);
      return c;
    };
    const grouped = client(true);
    const ungrouped = client(false);
    const purchaser = (c: SagaClient): Purchaser => ({ run: (req) => c.purchaseOutcome(req) });
    const truncate = () => db.query(`TRUNCATE ${SAGA_TABLES}`); // never VACUUM/ANALYZE them here (stack.md)
    const load = async (p: Purchaser, mode: SagaMode, concurrency: number, count: number): Promise<LoadResult> => {
      await truncate();
      const r = await runLoad(db, p, { count, concurrency, mode, quantity: 1, seed: 1 }, () => undefined);
      if (r.unfinished !== 0 || r.completed !== count) throw new Error(`${r.completed}/${count} completed, ${r.unfinished} unfinished: ${r.errors.join('; ')}`);
      return r;
    };
    const row = (name: string, r: LoadResult, note?: string): Row =>
      ({ name, sagasPerSecond: r.sagasPerSecond, p50: r.latencyMs.p50, p95: r.latencyMs.p95, count: r.count, note });

    say('warm-up');
    for (const c of [grouped, ungrouped]) for (const mode of ['orchestration', 'choreography'] as const) await load(purchaser(c), mode, 8, 300);
    await load(new NaiveTypeormPurchaser(ds), 'orchestration', 8, 200);

    say(`${args.rounds} alternating rounds at concurrency 32: pgbench, grouped engine, ungrouped engine, grouped without the ledger`);
    const limit: number[] = [];
    const engine32: LoadResult[] = [];
    const plain32: LoadResult[] = [];
    const noLedger32: LoadResult[] = [];
    // What the ledger costs: the same grouped load with its triggers switched off, in this
    // throw-away database only (no writer can switch them off in a real one without ALTER TABLE).
    const ledgerTriggers = async (on: boolean) => {
      for (const table of ['users', 'items']) await db.query(`ALTER TABLE ${table} ${on ? 'ENABLE' : 'DISABLE'} TRIGGER USER`);
    };
    for (let i = 0; i < args.rounds; i++) {
      limit.push(await pgbench.round(32, 10));
      engine32.push(await load(purchaser(grouped), 'orchestration', 32, args.count));
      plain32.push(await load(purchaser(ungrouped), 'orchestration', 32, args.count));
      await ledgerTriggers(false);
      try {
        noLedger32.push(await load(purchaser(grouped), 'orchestration', 32, args.count));
      } finally {
        await ledgerTriggers(true);
      }
      say(`  round ${i + 1}: pgbench ${Math.round(limit[i])}/s, grouped ${engine32[i].sagasPerSecond}/s, ungrouped ${plain32[i].sagasPerSecond}/s, ` +
        `grouped without the ledger ${noLedger32[i].sagasPerSecond}/s`);
    }
    const mid = (rs: LoadResult[]) => rs.find((r) => r.sagasPerSecond === median(rs.map((x) => x.sagasPerSecond)))!;
    const rows: Row[] = [
      { name: 'pgbench, the saga as 5 transactions, c=32 (the limit)', sagasPerSecond: Math.round(median(limit)), count: 0, note: `median of ${limit.map(Math.round).join(', ')}` },
      row('engine grouped, orchestration c=32', mid(engine32), `median of ${engine32.map((r) => r.sagasPerSecond).join(', ')}`),
      row('engine not grouped, orchestration c=32', mid(plain32), `median of ${plain32.map((r) => r.sagasPerSecond).join(', ')}`),
      row('engine grouped c=32, ledger triggers off (its cost)', mid(noLedger32), `median of ${noLedger32.map((r) => r.sagasPerSecond).join(', ')}`),
    ];
    say('the other scenarios');
    rows.push(row('engine grouped, choreography c=32', await load(purchaser(grouped), 'choreography', 32, args.count)));
    rows.push(row('engine grouped, orchestration c=256', await load(purchaser(grouped), 'orchestration', 256, args.count)));
    rows.push(row('engine not grouped, orchestration c=256', await load(purchaser(ungrouped), 'orchestration', 256, args.count)));
    rows.push(row('engine grouped, orchestration c=1', await load(purchaser(grouped), 'orchestration', 1, Math.round(args.count / 4))));
    rows.push(row('engine not grouped, orchestration c=1', await load(purchaser(ungrouped), 'orchestration', 1, Math.round(args.count / 4))));
    rows.push(row('library purchase() in-process (reads the saga back), c=32',
      await load({ run: async (req) => grouped.purchase(req) }, 'orchestration', 32, args.count)));
    rows.push(await cliRow(url, args.count));
    rows.push(row('naive TypeORM (the design\'s style), c=32', await load(new NaiveTypeormPurchaser(ds), 'orchestration', 32, Math.round(args.count / 4))));
    rows.push(row('naive TypeORM, c=1', await load(new NaiveTypeormPurchaser(ds), 'orchestration', 1, Math.round(args.count / 20))));

    say('1,000-way races');
    const races = [];
    for (const kind of ['user', 'item'] as const) {
      for (const grouping of [true, false]) races.push(await race(db, 'orchestration', kind, grouping));
    }
    await truncate();
    return report(args, rows, races);
  } finally {
    for (const c of clients) await c.close();
    await ds.destroy().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await pgbench.drop().catch(() => undefined);
    await admin(args.baseUrl, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
  }
}

/** The CLI: `sagactl saga load` as a process, on the same database (the built binary). */
async function cliRow(url: string, count: number): Promise<Row> {
  const bin = path.join(__dirname, '..', '..', 'bin', 'sagactl');
  const { stdout } = await execute(process.execPath, [bin, 'saga', 'load', '--count', String(count), '--concurrency', '32', '--json'],
    { env: { ...process.env, DATABASE_URL: url, NO_COLOR: '1' }, maxBuffer: 64 * 1024 * 1024 });
  const r = JSON.parse(stdout) as LoadResult;
  return { name: 'CLI: sagactl saga load --concurrency 32 (a process)', sagasPerSecond: r.sagasPerSecond, p50: r.latencyMs.p50, p95: r.latencyMs.p95, count };
}

function report(args: Args, rows: Row[], races: Awaited<ReturnType<typeof race>>[]): number {
  const by = (prefix: string) => rows.find((r) => r.name.startsWith(prefix))!;
  const limit = by('pgbench').sagasPerSecond;
  const g32 = by('engine grouped, orchestration c=32');
  const g256 = by('engine grouped, orchestration c=256');
  const g1 = by('engine grouped, orchestration c=1');
  const n1 = by('engine not grouped, orchestration c=1');
  const checks = [
    { name: 'grouped c=32 >= 1.0 x pgbench (median of the rounds)', pass: g32.sagasPerSecond >= limit, detail: `${fmt(g32.sagasPerSecond / limit)} x` },
    { name: 'grouped c=32 >= 1,000 sagas/s', pass: g32.sagasPerSecond >= 1000, detail: `${g32.sagasPerSecond}/s` },
    { name: 'grouped c=256 no lower than c=32', pass: g256.sagasPerSecond >= g32.sagasPerSecond * 0.95, detail: `${g256.sagasPerSecond} vs ${g32.sagasPerSecond}/s (5% noise allowed)` },
    { name: 'one at a time: p50 no worse grouped than not', pass: (g1.p50 ?? 0) <= (n1.p50 ?? 0) * 1.1, detail: `${fmt(g1.p50)} vs ${fmt(n1.p50)} ms` },
    { name: 'one at a time: p50 < 3 ms', pass: (g1.p50 ?? 99) < 3, detail: `${fmt(g1.p50)} ms` },
    ...races.filter((r) => !r.scenario.includes('no batch')).map((r) => ({ name: `race ${r.scenario}: exact, < ${RACE_TARGET_SECONDS} s`,
      pass: r.pass, detail: `${r.seconds.toFixed(3)} s, ${r.completed} completed, ${r.correct ? 'exact' : 'NOT EXACT'}` })),
  ];
  const context = { cpus: os.availableParallelism(), load: os.loadavg().map((l) => l.toFixed(2)).join(' '), count: args.count, rounds: args.rounds };
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ context, rows, races, checks, pass: checks.every((c) => c.pass) }, null, 2)}\n`);
  } else {
    const w = Math.max(...rows.map((r) => r.name.length));
    const lines = [
      `saga benchmark: ${context.cpus} cores, load average ${context.load}, pool ${POOL}, 100 users, 10 items, quantity 1`,
      '', `${'scenario'.padEnd(w)}  sagas/s  x limit  p50 ms  p95 ms`,
      ...rows.map((r) => `${r.name.padEnd(w)}  ${String(r.sagasPerSecond).padStart(7)}  ${fmt(r.sagasPerSecond / limit).padStart(7)}  ` +
        `${fmt(r.p50).padStart(6)}  ${fmt(r.p95).padStart(6)}${r.note ? `  (${r.note})` : ''}`),
      '', 'races (1,000 purchases at once):',
      ...races.map((r) => `  ${r.scenario.padEnd(32)} ${r.seconds.toFixed(3)} s  completed ${r.completed}  ${r.correct ? 'exact' : 'NOT EXACT'}`),
      '', ...checks.map((c) => `${c.pass ? 'PASS' : 'FAIL'}  ${c.name}: ${c.detail}`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return checks.every((c) => c.pass) ? 0 : 1;
}

// A pool deadlock leaves nothing on the event loop and Node would exit 0 mid-run: never let it pass.
let finished = false;
process.on('exit', (code) => {
  if (!finished && code === 0) {
    process.stderr.write('bench:saga: the process ended before the benchmark finished (a saga never settled?)\n');
    process.exitCode = 1;
  }
});

main().then((code) => {
  finished = true;
  process.exitCode = code;
}, (err) => {
  finished = true;
  process.stderr.write(`bench:saga: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
