import crypto from 'node:crypto';
import os from 'node:os';
import { maskUrl, validateRedisUrl } from '../src/config';
import { applicationName, createDb, createPool } from '../src/db/pool';
import { loadMigrations } from '../src/migrate/loader';
import { runUp } from '../src/migrate/runner';
import { generateRows } from '../src/seed/copy';
import { DEFAULT_LEASE_MS, DEFAULT_LOCK_TIMEOUT_MS, leaseOwner } from '../src/saga/engine';
import { prng, runLoad } from '../src/saga/load';
import { getSaga, SagaView } from '../src/saga/queries';
import { SagaRunner } from '../src/saga/service';
import { RedisSagaCache } from '../src/cache/redis-cache';
import { readThrough } from '../src/cache/saga-cache';
import { urlFor, admin, benchArgs, DEFAULT_SERVER } from './support';

/**
 * npm run bench:cache [-- --sagas N] [--reads N] [--database-url URL] [--redis-url URL] [--json]
 *
 * `saga show` read latency in-process, one read at a time, on a database of its own: N sagas
 * (default 1,000) run through the engine, then the same seeded random reads (default 2,000)
 * through getSaga alone, and through the Redis read-through cold (every saga once: a miss, then
 * SET) and warm (every read a hit). PASS/FAIL against the design's p95 < 200 ms.
 */

const TARGET_P95_MS = 200;

interface Args { baseUrl: string; redisUrl: string; sagas: number; reads: number; json: boolean }

const USAGE = 'usage: npm run bench:cache -- [--sagas N (1000)] [--reads N (2000)] [--database-url URL] [--redis-url URL] [--json]\n'
  + 'PostgreSQL: DATABASE_URL or 127.0.0.1:5432 (a database of its own, dropped after); Redis: REDIS_URL or 127.0.0.1:6379.';

function parseArgs(argv: string[]): Args {
  const args = benchArgs<Args>('cache', USAGE, argv, { baseUrl: DEFAULT_SERVER, redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379', sagas: 1000, reads: 2000, json: false },
    { '--database-url': ['baseUrl', 'text'], '--redis-url': ['redisUrl', 'text'], '--sagas': ['sagas', [1, 1_000_000]], '--reads': ['reads', [1, 1_000_000]], '--json': ['json', 'switch'] });
  try {
    validateRedisUrl(args.redisUrl);
  } catch (err) {
    process.stderr.write(`bench:cache: ${(err as Error).message}\n`);
    process.exit(2);
  }
  return args;
}

interface Latency { reads: number; p50: number; p95: number; p99: number; max: number; mean: number; readsPerSecond: number }

/** Reads one id after the other, each timed alone: the latency one operator's `saga show` sees. */
async function measure(ids: string[], read: (id: string) => Promise<SagaView>): Promise<Latency> {
  const ms: number[] = [];
  const started = process.hrtime.bigint();
  for (const id of ids) {
    const t0 = process.hrtime.bigint();
    const view = await read(id);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (view.transactionId !== id) throw new Error(`read ${id}, got ${view.transactionId}`);
  }
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  ms.sort((a, b) => a - b);
  const at = (q: number) => round(ms[Math.min(ms.length - 1, Math.ceil(q * ms.length) - 1)]);
  return { reads: ms.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: round(ms[ms.length - 1]),
    mean: round(ms.reduce((a, b) => a + b, 0) / ms.length), readsPerSecond: Math.round(ms.length / wall) };
}

const round = (n: number) => Math.round(n * 1000) / 1000;

function render(rows: [string, Latency][], context: Record<string, unknown>, pass: boolean): string {
  const head = ['read path', 'reads', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'reads/s'];
  const cells = rows.map(([name, l]) => [name, String(l.reads), l.p50.toFixed(3), l.p95.toFixed(3), l.p99.toFixed(3), l.max.toFixed(3), String(l.readsPerSecond)]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  ');
  return [
    `saga show read latency: ${context.sagas} sagas, ${context.reads} random reads one at a time, ` +
      `PostgreSQL ${context.server}, Redis ${context.redis}, ${context.cpus} cores, load ${context.load}`,
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...cells.map(line),
    '',
    `${pass ? 'PASS' : 'FAIL'}  every read path p95 < ${TARGET_P95_MS} ms (the design's target)`,
  ].join('\n');
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const dbName = `sagactl_bench_${crypto.randomBytes(4).toString('hex')}`;
  const url = urlFor(args.baseUrl, dbName);
  const say = (text: string) => process.stderr.write(`${text}\n`);
  say(`bench:cache: database ${maskUrl(url)}, Redis ${maskUrl(args.redisUrl)}`);
  await admin(args.baseUrl, `CREATE DATABASE ${dbName}`);
  const pool = createPool(url, 4, applicationName('bench-cache'), 5000);
  const db = createDb(pool, url);
  // Keys of this run only, removed at the end; a Redis failure aborts the benchmark instead of warning.
  const prefix = `sagactl-bench-${crypto.randomBytes(4).toString('hex')}:saga:`;
  const cache = new RedisSagaCache({ url: args.redisUrl, connectTimeoutMs: 2000, commandTimeoutMs: 2000, keyPrefix: prefix,
    warn: (line) => { throw new Error(`Redis failed: ${line}`); } });
  let ids: string[] = [];
  try {
    await runUp({ db, migrations: loadMigrations(), lockTimeoutMs: 10_000, log: () => undefined });
    await generateRows(db, { users: 100, items: 10, seed: 1, balance: '99999999.99', stock: 1_000_000_000 }, () => undefined);
    say(`running ${args.sagas} sagas`);
    const runner = new SagaRunner({ db, owner: leaseOwner(), leaseMs: DEFAULT_LEASE_MS, lockTimeoutMs: DEFAULT_LOCK_TIMEOUT_MS, grouping: true });
    await runLoad(db, runner, { count: args.sagas, concurrency: 8, mode: 'orchestration', quantity: 1, seed: 1 }, () => undefined);
    ids = (await db.query('SELECT transaction_id AS id FROM saga_states ORDER BY transaction_id')).map((r) => r.id);
    const random = prng(42);
    const reads = Array.from({ length: args.reads }, () => ids[Math.floor(random() * ids.length)]);
    const [{ server }] = await db.query(`SELECT current_setting('server_version') AS server`);

    // Warm-up of the pool, prepared plans and the Redis connection; not measured.
    for (const id of ids.slice(0, 50)) await getSaga(db, id);
    await cache.get('warm-up');
    say('measuring');
    const rows: [string, Latency][] = [
      ['getSaga (no cache)', await measure(reads, (id) => getSaga(db, id))],
      ['read-through, cold (miss + SET)', await measure(ids, (id) => readThrough(cache, id, (x) => getSaga(db, x)))],
      ['read-through, warm (hit)', await measure(reads, (id) => readThrough(cache, id, () => { throw new Error(`miss on ${id}`); }))],
    ];
    const pass = rows.every(([, l]) => l.p95 < TARGET_P95_MS);
    const context = { sagas: ids.length, reads: args.reads, server, redis: maskUrl(args.redisUrl), cpus: os.availableParallelism(),
      load: os.loadavg().map((l) => l.toFixed(2)).join(' '), node: process.version };
    if (args.json) {
      process.stdout.write(`${JSON.stringify({ context, targetP95Ms: TARGET_P95_MS, paths: rows.map(([name, l]) => ({ name, ...l })), pass }, null, 2)}\n`);
    } else {
      process.stdout.write(`${render(rows, context, pass)}\n`);
    }
    return pass ? 0 : 1;
  } finally {
    await cache.invalidate(ids).catch(() => undefined);
    await cache.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await admin(args.baseUrl, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch((err) =>
      say(`bench:cache: could not drop ${dbName}: ${(err as Error).message}`));
  }
}

main().then((code) => {
  process.exitCode = code;
}, (err) => {
  process.stderr.write(`bench:cache: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
