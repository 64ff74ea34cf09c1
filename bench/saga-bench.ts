import 'reflect-metadata';
import os from 'node:os';
import crypto from 'node:crypto';
import { maskUrl } from '../src/config';
import { createDataSource } from '../src/db/data-source';
import { applicationName, createDb, createPool, Db } from '../src/db/pool';
import { loadMigrations } from '../src/migrate/loader';
import { runUp } from '../src/migrate/runner';
import { generateRows } from '../src/seed/copy';
import { DEFAULT_LEASE_MS, DEFAULT_LOCK_TIMEOUT_MS, leaseOwner } from '../src/saga/engine';
import { LoadResult, Purchaser, runLoad } from '../src/saga/load';
import { SagaRunner } from '../src/saga/service';
import { SagaMode } from '../src/saga/types';
import { NaiveTypeormPurchaser } from './naive-typeorm';
import { urlFor, admin } from './support';

/**
 * npm run bench:saga [-- --count N] [--database-url URL] [--json]
 *
 * The engine against a naive TypeORM implementation of the same saga (bench/naive-typeorm.ts),
 * from one process, on a database of its own: 100 users and 10 items with ample balance and
 * stock, quantity 1, the same seeded plan for every scenario. Prints sagas/s and latency for each
 * scenario, the ratios, and PASS/FAIL against the product's targets (product.md, "How good it
 * must be"). Exit 1 when a scenario left a saga unfinished or a target is missed.
 */

const POOL = 10; // the engine's pool on 2 cores; a pool of 32 was slower (stack.md)
const SAGA_TABLES = 'saga_events, saga_step_results, notifications, transaction_logs, saga_states';
const TARGET = { throughput: 1000, p50Ms: 3, choreographyShare: 0.8 };

interface Args { baseUrl: string; count: number; warmup: number; json: boolean }

function parseArgs(argv: string[]): Args {
  const args: Args = {
    baseUrl: process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres', count: 10_000, warmup: 300, json: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${flag} needs a value`);
      return v;
    };
    const whole = (v: string, min: number) => {
      if (!/^\d+$/.test(v) || Number(v) < min) usage(`${flag} must be a whole number >= ${min}, got "${v}"`);
      return Number(v);
    };
    if (flag === '--database-url') args.baseUrl = value();
    else if (flag === '--count') args.count = whole(value(), 10);
    else if (flag === '--warmup') args.warmup = whole(value(), 0);
    else if (flag === '--json') args.json = true;
    else if (flag === '--help' || flag === '-h') usage();
    else usage(`unknown option ${flag}`);
  }
  return args;
}

function usage(error?: string): never {
  const text = 'usage: npm run bench:saga -- [--count N (default 10000)] [--warmup N (300)] [--database-url URL] [--json]\n'
    + 'Scenarios: engine orchestration, engine choreography and naive TypeORM at concurrency 32 (N sagas each),\n'
    + 'engine orchestration (N/5) and naive (N/10) one at a time. The server is DATABASE_URL or 127.0.0.1:5432.\n';
  process.stderr.write(error ? `bench:saga: ${error}\n${text}` : text);
  process.exit(error ? 2 : 0);
}

interface Scenario { name: string; purchaser: 'engine' | 'naive'; mode: SagaMode; concurrency: number; count: number }

/** nodeCpu: this process's CPU time over the wall time (1.0 = one core busy); the rest of the machine is PostgreSQL's. */
interface Measured { scenario: Scenario; result: LoadResult; nodeCpu: number }



/** What the scenario left in the database must agree with what runLoad counted. */
async function verify(db: Db, s: Scenario, r: LoadResult): Promise<void> {
  const problems: string[] = [];
  if (r.unfinished !== 0) problems.push(`${r.unfinished} saga(s) unfinished (${r.errors.join('; ') || 'no error captured'})`);
  if (r.completed !== s.count) {
    problems.push(`${r.completed} of ${s.count} completed (compensated ${r.compensated}, failed ${r.failed}, `
      + `compensation_failed ${r.compensationFailed})`);
  }
  const [row] = await db.query<{ sagas: string; completed: string; mode_ok: string; steps: string }>(
    `SELECT (SELECT count(*) FROM saga_states) AS sagas,
            (SELECT count(*) FROM saga_states WHERE status = 'completed') AS completed,
            (SELECT count(*) FROM saga_states WHERE mode = $1) AS mode_ok,
            (SELECT count(*) FROM saga_step_results WHERE kind = 'forward' AND status = 'succeeded') AS steps`, [s.mode]);
  const expect = (what: string, got: string, want: number) => {
    if (Number(got) !== want) problems.push(`${what}: ${got} in the database, expected ${want}`);
  };
  expect('saga rows', row.sagas, s.count);
  expect('completed saga rows', row.completed, s.count);
  expect(`${s.mode} saga rows`, row.mode_ok, s.count);
  expect('succeeded step rows', row.steps, 4 * s.count);
  if (problems.length > 0) throw new Error(`scenario "${s.name}" is not a valid measurement:\n  - ${problems.join('\n  - ')}`);
}

const fmt = (n: number, digits = 2) => n.toFixed(digits);

function render(measured: Measured[], ratios: Record<string, number>, checks: { name: string; pass: boolean; detail: string }[],
  context: Record<string, unknown>): string {
  const head = ['scenario', 'sagas', 'sagas/s', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'node CPU'];
  const rows = measured.map(({ scenario: s, result: r, nodeCpu }) =>
    [s.name, String(r.count), String(r.sagasPerSecond), fmt(r.latencyMs.p50), fmt(r.latencyMs.p95), fmt(r.latencyMs.p99),
      fmt(r.latencyMs.max), `${Math.round(nodeCpu * 100)}%`]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [
    `saga benchmark: ${context.cpus} cores, PostgreSQL ${context.server}, pool ${POOL}, ${context.users} users, ${context.items} items, quantity 1`,
    `load average before: ${context.loadBefore}   after: ${context.loadAfter}   (node CPU: this process, 100% = one core)`,
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `engine / naive throughput at c=32:   ${fmt(ratios.engineOverNaiveC32)}x`,
    `naive / engine p50 at c=1:           ${fmt(ratios.naiveOverEngineP50C1)}x`,
    `choreography / orchestration at c=32: ${fmt(ratios.choreographyOverOrchestration * 100, 1)}%`,
    '',
    ...checks.map((c) => `${c.pass ? 'PASS' : 'FAIL'}  ${c.name}: ${c.detail}`),
  ].join('\n');
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const dbName = `sagactl_bench_${crypto.randomBytes(4).toString('hex')}`;
  const url = urlFor(args.baseUrl, dbName);
  const say = (text: string) => process.stderr.write(`${text}\n`); // diagnostics: stderr, even with --json
  say(`bench:saga: database ${maskUrl(url)}`);

  await admin(args.baseUrl, `CREATE DATABASE ${dbName}`);
  const pool = createPool(url, POOL, applicationName('bench-saga'), 5000);
  const db = createDb(pool, url);
  const ds = createDataSource(url, applicationName('bench-saga-naive'), POOL);
  try {
    await runUp({ db, migrations: loadMigrations(), lockTimeoutMs: 10_000, log: () => undefined });
    const users = 100;
    const items = 10;
    await generateRows(db, { users, items, seed: 1, balance: '99999999.99', stock: 1_000_000_000 }, () => undefined);
    await ds.initialize();
    const engine = new SagaRunner({ db, owner: leaseOwner(), leaseMs: DEFAULT_LEASE_MS, lockTimeoutMs: DEFAULT_LOCK_TIMEOUT_MS, grouping: true });
    const naive = new NaiveTypeormPurchaser(ds);
    const purchasers: Record<Scenario['purchaser'], Purchaser> = { engine, naive };
    const [{ server }] = await db.query<{ server: string }>(`SELECT current_setting('server_version') AS server`);
    const loadBefore = os.loadavg().map((l) => l.toFixed(2)).join(' ');

    const truncate = () => db.query(`TRUNCATE ${SAGA_TABLES}`); // never VACUUM/ANALYZE them here (stack.md)
    const load = (s: Omit<Scenario, 'name'>, count: number) =>
      runLoad(db, purchasers[s.purchaser], { count, concurrency: s.concurrency, mode: s.mode, quantity: 1, seed: 1 }, () => undefined);

    // Warm-up: JIT, pool connections, prepared statements, TypeORM metadata; then wiped.
    if (args.warmup > 0) {
      say(`warm-up: ${args.warmup} sagas each of engine orchestration, engine choreography and naive`);
      for (const [purchaser, mode] of [['engine', 'orchestration'], ['engine', 'choreography'], ['naive', 'orchestration']] as const) {
        const r = await load({ purchaser, mode, concurrency: 8, count: args.warmup }, args.warmup);
        if (r.unfinished !== 0 || r.completed !== args.warmup) {
          throw new Error(`warm-up of ${purchaser} ${mode}: ${r.completed} of ${args.warmup} completed, ${r.unfinished} unfinished: ${r.errors.join('; ')}`);
        }
      }
    }

    const c1Engine = Math.max(1, Math.round(args.count / 5));
    const c1Naive = Math.max(1, Math.round(args.count / 10));
    const scenarios: Scenario[] = [
      { name: 'engine orchestration c=32', purchaser: 'engine', mode: 'orchestration', concurrency: 32, count: args.count },
      { name: 'engine choreography c=32', purchaser: 'engine', mode: 'choreography', concurrency: 32, count: args.count },
      { name: 'naive TypeORM c=32', purchaser: 'naive', mode: 'orchestration', concurrency: 32, count: args.count },
      { name: 'engine orchestration c=1', purchaser: 'engine', mode: 'orchestration', concurrency: 1, count: c1Engine },
      { name: 'naive TypeORM c=1', purchaser: 'naive', mode: 'orchestration', concurrency: 1, count: c1Naive },
    ];
    const measured: Measured[] = [];
    for (const s of scenarios) {
      await truncate();
      say(`running ${s.name}: ${s.count} sagas`);
      const cpu0 = process.cpuUsage();
      const result = await load(s, s.count);
      const cpu = process.cpuUsage(cpu0);
      const nodeCpu = (cpu.user + cpu.system) / 1e6 / result.wallSeconds;
      await verify(db, s, result);
      say(`  ${result.sagasPerSecond} sagas/s, p50 ${fmt(result.latencyMs.p50)} ms, node CPU ${Math.round(nodeCpu * 100)}%`);
      measured.push({ scenario: s, result, nodeCpu });
    }
    await truncate();

    const by = (name: string) => measured.find((m) => m.scenario.name === name)!.result;
    const orch = by('engine orchestration c=32');
    const chor = by('engine choreography c=32');
    const naive32 = by('naive TypeORM c=32');
    const orch1 = by('engine orchestration c=1');
    const naive1 = by('naive TypeORM c=1');
    const ratios = {
      engineOverNaiveC32: orch.sagasPerSecond / naive32.sagasPerSecond,
      naiveOverEngineP50C1: naive1.latencyMs.p50 / orch1.latencyMs.p50,
      choreographyOverOrchestration: chor.sagasPerSecond / orch.sagasPerSecond,
    };
    const checks = [
      { name: `engine orchestration c=32 >= ${TARGET.throughput} sagas/s`, pass: orch.sagasPerSecond >= TARGET.throughput,
        detail: `${orch.sagasPerSecond} sagas/s` },
      { name: `engine orchestration c=1 p50 < ${TARGET.p50Ms} ms`, pass: orch1.latencyMs.p50 < TARGET.p50Ms,
        detail: `${fmt(orch1.latencyMs.p50)} ms` },
      { name: `choreography >= ${TARGET.choreographyShare * 100}% of orchestration at c=32`,
        pass: ratios.choreographyOverOrchestration >= TARGET.choreographyShare,
        detail: `${chor.sagasPerSecond} / ${orch.sagasPerSecond} = ${fmt(ratios.choreographyOverOrchestration * 100, 1)}%` },
    ];
    const context = {
      cpus: os.availableParallelism(), server, pool: POOL, users, items, loadBefore,
      loadAfter: os.loadavg().map((l) => l.toFixed(2)).join(' '), warmup: args.warmup, node: process.version,
    };
    if (args.json) {
      process.stdout.write(`${JSON.stringify({
        context,
        scenarios: measured.map(({ scenario, result, nodeCpu }) => ({ ...scenario, ...result, nodeCpu: Math.round(nodeCpu * 1000) / 1000 })),
        ratios,
        checks,
        pass: checks.every((c) => c.pass),
      }, null, 2)}\n`);
    } else {
      process.stdout.write(`${render(measured, ratios, checks, context)}\n`);
    }
    return checks.every((c) => c.pass) ? 0 : 1;
  } finally {
    await ds.destroy().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await admin(args.baseUrl, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch((err) =>
      process.stderr.write(`bench:saga: could not drop ${dbName}: ${(err as Error).message}\n`));
  }
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
  process.stderr.write(`bench:saga: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
