import os from 'node:os';
import crypto from 'node:crypto';
import { maskUrl } from '../src/config';
import { applicationName, createDb, createPool, Db } from '../src/db/pool';
import { loadMigrations } from '../src/migrate/loader';
import { runUp } from '../src/migrate/runner';
import { generateRows } from '../src/seed/copy';
import { getStats } from '../src/stats/read';
import { SagaStats } from '../src/stats/summary';
import { urlFor, admin, benchArgs, DEFAULT_SERVER } from './support';

/**
 * npm run bench:stats [-- --sagas N] [--days D] [--warm N] [--database-url URL] [--json]
 *
 * Generates N sagas (default 10,000,000) over D days into a database of its own, then times
 * `stats` (the first run, which builds the rollup, and warm runs) against the design's naive
 * getStatistics query (COUNT(CASE ...) over saga_states) on the same table, checks that both
 * count the same, prints the ratio, and drops the database.
 */
interface Args { baseUrl: string; sagas: number; days: number; warm: number; json: boolean }

const USAGE = 'usage: npm run bench:stats -- [--sagas N (10000000)] [--days D (30)] [--warm N (5)] [--database-url URL] [--json]';

function parseArgs(argv: string[]): Args {
  return benchArgs<Args>('stats', USAGE, argv, { baseUrl: DEFAULT_SERVER, sagas: 10_000_000, days: 30, warm: 5, json: false },
    { '--database-url': ['baseUrl', 'text'], '--sagas': ['sagas', [1]], '--days': ['days', [1]], '--warm': ['warm', [1]], '--json': ['json', 'switch'] });
}

/** The design's getStatistics, with its column-alias bug fixed and compensation_failed added. */
const NAIVE_SQL = `
SELECT COUNT(*) AS total,
       COUNT(CASE WHEN status = 'pending' THEN 1 END) AS pending,
       COUNT(CASE WHEN status = 'in_progress' THEN 1 END) AS "inProgress",
       COUNT(CASE WHEN status = 'completed' THEN 1 END) AS completed,
       COUNT(CASE WHEN status = 'failed' THEN 1 END) AS failed,
       COUNT(CASE WHEN status = 'compensating' THEN 1 END) AS compensating,
       COUNT(CASE WHEN status = 'compensated' THEN 1 END) AS compensated,
       COUNT(CASE WHEN status = 'compensation_failed' THEN 1 END) AS "compensationFailed"
  FROM saga_states`;

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const r1 = (x: number) => Math.round(x * 10) / 10;
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

/** The counts stats printed must be the naive query's, to the saga. */
function sameCounts(stats: SagaStats, naive: Record<string, string>): string[] {
  return Object.entries(naive).filter(([k, v]) => Number(v) !== stats[k as keyof SagaStats]).map(([k, v]) => `${k}: stats ${stats[k as keyof SagaStats]}, naive ${v}`);
}

async function measure(db: Db, args: Args, say: (s: string) => void) {
  say(`generating ${args.sagas.toLocaleString('en-US')} sagas over ${args.days} days (COPY)`);
  let lastSaid = Date.now();
  const gen = await timed(() => generateRows(db, { users: 0, items: 0, seed: 1, sagas: args.sagas, days: args.days,
    endMs: Math.floor(Date.now() / 60_000) * 60_000 }, (done) => {
    if (Date.now() - lastSaid > 10_000) {
      lastSaid = Date.now();
      say(`  ${done.toLocaleString('en-US')} rows`);
    }
  }));
  say(`  ${r1(gen.ms / 1000)} s; VACUUM ANALYZE (what autovacuum does after a bulk insert)`);
  const vacuum = await timed(() => db.query('VACUUM (ANALYZE) saga_states'));
  const [size] = await db.query(`SELECT pg_size_pretty(pg_table_size('saga_states')) AS "table",
    pg_size_pretty(pg_indexes_size('saga_states')) AS indexes`);
  say(`stats, first run (builds the rollup)`);
  const first = await timed(() => getStats(db));
  const warm: number[] = [];
  for (let i = 0; i < args.warm; i++) warm.push((await timed(() => getStats(db))).ms);
  const day: number[] = [];
  for (let i = 0; i < args.warm; i++) day.push((await timed(() => getStats(db, { since: new Date(Date.now() - 86_400_000) }))).ms);
  say(`naive COUNT(CASE ...) over saga_states, ${args.warm} runs`);
  const naive: number[] = [];
  let naiveRow: Record<string, string> = {};
  for (let i = 0; i < args.warm; i++) {
    const n = await timed(() => db.query(NAIVE_SQL));
    naive.push(n.ms);
    naiveRow = n.value[0];
  }
  const last = await getStats(db);
  const mismatches = sameCounts(last, naiveRow);
  const [rollup] = await db.query(`SELECT pg_size_pretty(pg_total_relation_size('saga_stats_rollup') + pg_total_relation_size('saga_stats_latency')) AS size,
    (SELECT count(*) FROM saga_stats_rollup) AS "rollupRows", (SELECT count(*) FROM saga_stats_latency) AS "latencyRows"`);
  return {
    sagas: args.sagas, days: args.days, generateSeconds: r1(gen.ms / 1000), rowsPerSecond: gen.value.rowsPerSecond,
    vacuumAnalyzeSeconds: r1(vacuum.ms / 1000), table: size, rollup,
    statsFirstMs: r1(first.ms), statsWarmMs: warm.map(r1), statsWarmMedianMs: r1(median(warm)),
    statsLast24hMs: day.map(r1), naiveMs: naive.map(r1), naiveMedianMs: r1(median(naive)),
    ratioNaiveOverWarm: r1(median(naive) / median(warm)), ratioNaiveOverFirst: Math.round((median(naive) / first.ms) * 100) / 100,
    countsAgree: mismatches.length === 0, mismatches, stats: last,
  };
}

type Result = Awaited<ReturnType<typeof measure>>;

function render(r: Result, context: Record<string, string>): string {
  const l = r.stats.latencyMs;
  return [
    `stats benchmark: ${context.cpus} cores, PostgreSQL ${context.server}, load average before: ${context.loadBefore}  after: ${context.loadAfter}`,
    `data: ${r.sagas.toLocaleString('en-US')} sagas over ${r.days} days, generated in ${r.generateSeconds} s (${r.rowsPerSecond.toLocaleString('en-US')} rows/s), ` +
      `VACUUM ANALYZE ${r.vacuumAnalyzeSeconds} s; saga_states ${r.table.table} + indexes ${r.table.indexes}`,
    `rollup: ${Number(r.rollup.rollupRows).toLocaleString('en-US')} count rows + ${Number(r.rollup.latencyRows).toLocaleString('en-US')} latency rows, ${r.rollup.size}`,
    '',
    `stats, first run (builds the rollup):   ${r.statsFirstMs.toLocaleString('en-US')} ms`,
    `stats, warm (all time), ${r.statsWarmMs.length} runs:        median ${r.statsWarmMedianMs} ms  [${r.statsWarmMs.join(', ')}]`,
    `stats, warm (--since 24h):              median ${median(r.statsLast24hMs)} ms  [${r.statsLast24hMs.join(', ')}]`,
    `naive COUNT(CASE ...), ${r.naiveMs.length} runs:         median ${r.naiveMedianMs.toLocaleString('en-US')} ms  [${r.naiveMs.join(', ')}]`,
    `naive / stats warm:                     ${r.ratioNaiveOverWarm}x`,
    `naive / stats first run:                ${r.ratioNaiveOverFirst}x`,
    '',
    `counts: total ${r.stats.total.toLocaleString('en-US')}, completed ${r.stats.completed.toLocaleString('en-US')}, failed ${r.stats.failed}, ` +
      `compensated ${r.stats.compensated}, compensation_failed ${r.stats.compensationFailed}, stuck ${r.stats.stuck}; ` +
      `${r.countsAgree ? 'identical to the naive query' : `DIFFER from the naive query: ${r.mismatches.join('; ')}`}`,
    `latency (ms, percentiles within ${(l.relativeError * 100).toFixed(1)}%): p50 ${l.p50}  p95 ${l.p95}  p99 ${l.p99}  max ${l.max}`,
  ].join('\n');
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const dbName = `sagactl_statsbench_${crypto.randomBytes(4).toString('hex')}`;
  const url = urlFor(args.baseUrl, dbName);
  const say = (text: string) => process.stderr.write(`${text}\n`);
  say(`bench:stats: database ${maskUrl(url)}`);
  const loadBefore = load();
  await admin(args.baseUrl, `CREATE DATABASE ${dbName}`);
  const pool = createPool(url, 4, applicationName('bench-stats'), 5000);
  const db = createDb(pool, url);
  try {
    await runUp({ db, migrations: loadMigrations(), lockTimeoutMs: 10_000, log: () => undefined });
    const [{ server }] = await db.query<{ server: string }>(`SELECT current_setting('server_version') AS server`);
    const result = await measure(db, args, say);
    const context = { cpus: String(os.availableParallelism()), server, loadBefore, loadAfter: load() };
    process.stdout.write(args.json ? `${JSON.stringify({ context, ...result }, null, 2)}\n` : `${render(result, context)}\n`);
    return result.countsAgree ? 0 : 1;
  } finally {
    await pool.end().catch(() => undefined);
    await admin(args.baseUrl, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch((err) =>
      say(`bench:stats: could not drop ${dbName}: ${(err as Error).message}`));
  }
}

main().then((code) => { process.exitCode = code; }, (err) => {
  process.stderr.write(`bench:stats: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
