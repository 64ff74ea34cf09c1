import os from 'node:os';
import crypto from 'node:crypto';
import { maskUrl } from '../src/config';
import { applicationName, createDb, createPool } from '../src/db/pool';
import { loadMigrations } from '../src/migrate/loader';
import { runUp } from '../src/migrate/runner';
import { generateRows } from '../src/seed/copy';
import { createSagaClient } from '../src/client';
import { runChecks } from '../src/health/check';
import { urlFor, admin, benchArgs, DEFAULT_SERVER } from './support';

/**
 * npm run bench:bulk [-- --sagas N] [--batch B] [--parallel P] [--database-url URL] [--json]
 *
 * Seeds a fresh database with generated sagas (seed generate's machinery: COPY, with their step
 * records and ledger), enough for N completed ones, then compensates N of them in bulk, selected by
 * FILTERS (status completed, --include-completed), through the library's runBulk: one transaction
 * per saga, the guard on after every batch. Prints sagas per second, then runs db check's money
 * and stock invariants over the whole database (they must all pass), and drops the database.
 */
interface Args { baseUrl: string; sagas: number; batch: number; parallel: number; json: boolean }

const USAGE = 'usage: npm run bench:bulk -- [--sagas N (100000)] [--batch B (100)] [--parallel P (4)] [--database-url URL] [--json]';

function parseArgs(argv: string[]): Args {
  return benchArgs<Args>('bulk', USAGE, argv, { baseUrl: DEFAULT_SERVER, sagas: 100_000, batch: 100, parallel: 4, json: false },
    { '--database-url': ['baseUrl', 'text'], '--sagas': ['sagas', [1]], '--batch': ['batch', [1]], '--parallel': ['parallel', [1]], '--json': ['json', 'switch'] });
}

const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
/** The money and stock rules of db check (not no_stuck_sagas: generated history holds stuck sagas on purpose). */
const MONEY_AND_STOCK = (name: string) => name !== 'no_stuck_sagas';

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const dbName = `sagactl_bulk_bench_${crypto.randomBytes(4).toString('hex')}`;
  const url = urlFor(args.baseUrl, dbName);
  const say = (text: string) => process.stderr.write(`${text}\n`);
  say(`bench:bulk: database ${maskUrl(url)}`);
  const loadBefore = load();
  await admin(args.baseUrl, `CREATE DATABASE ${dbName}`);
  const pool = createPool(url, args.parallel + 2, applicationName('bench-bulk'), 5000);
  const db = createDb(pool, url);
  const client = createSagaClient({ pool, actor: { user: 'bench', host: os.hostname() } });
  try {
    await runUp({ db, migrations: loadMigrations(), lockTimeoutMs: 10_000, log: () => undefined });
    // 90% of generated sagas complete: a tenth more, and N of them are there to compensate.
    const generated = Math.ceil(args.sagas / 0.88);
    say(`seeding ${generated.toLocaleString('en-US')} sagas (COPY, with their history and ledger)`);
    await generateRows(db, { users: 1000, items: 100, seed: 7, sagas: generated, days: 1, endMs: Math.floor(Date.now() / 60_000) * 60_000 }, () => undefined);
    await db.query('VACUUM (ANALYZE)');
    const filter = { status: 'completed' as const };
    const plan = await client.planBulk({ action: 'compensate', filter, includeCompleted: true, limit: args.sagas });
    if (plan.sagas < args.sagas) throw new Error(`only ${plan.sagas} compensatable sagas were seeded, ${args.sagas} wanted`);
    say(`compensating ${plan.sagas.toLocaleString('en-US')} sagas by FILTERS (status=completed --include-completed), batch ${args.batch}, guard on`);
    let lastSaid = Date.now();
    const t0 = performance.now();
    const report = await client.runBulk({ action: 'compensate', filter, includeCompleted: true, limit: args.sagas, batch: args.batch, concurrency: args.parallel, reason: 'bench:bulk',
      onProgress: (done) => {
        if (Date.now() - lastSaid < 10_000) return;
        lastSaid = Date.now();
        say(`  ${done.toLocaleString('en-US')} sagas, ${Math.round(done / ((performance.now() - t0) / 1000))}/s`);
      } });
    const seconds = (performance.now() - t0) / 1000;
    const check = await runChecks(db, { olderThanMs: 60_000 });
    const failing = check.checks.filter((c) => MONEY_AND_STOCK(c.name) && !c.ok).map((c) => `${c.name} (${c.count})`);
    const [{ server }] = await db.query<{ server: string }>(`SELECT current_setting('server_version') AS server`);
    const result = {
      context: { cpus: os.availableParallelism(), server, loadBefore, loadAfter: load() },
      sagas: report.processed, seconds: Math.round(seconds * 10) / 10, sagasPerSecond: Math.round(report.processed / seconds),
      outcome: report.outcome, counts: report.counts, refunded: report.refunded, restocked: report.restocked,
      planned: { refund: plan.refund, restock: plan.restock }, batch: args.batch, parallel: args.parallel, guard: 'on', moneyAndStockChecks: failing.length === 0 ? 'pass' : failing,
    };
    process.stdout.write(args.json ? `${JSON.stringify(result, null, 2)}\n` : [
      `bulk benchmark: ${result.context.cpus} cores, PostgreSQL ${server}, load average before: ${loadBefore}  after: ${result.context.loadAfter}`,
      `compensated ${result.sagas.toLocaleString('en-US')} sagas in ${result.seconds} s: ${result.sagasPerSecond.toLocaleString('en-US')} sagas/s ` +
        `(batch ${args.batch}, ${args.parallel} at once, guard on, one transaction per saga); outcome ${report.outcome} ${JSON.stringify(report.counts)}`,
      `refunded ${report.refunded} (planned ${plan.refund}), restocked ${report.restocked} (planned ${plan.restock}); db check money and stock: ${failing.length === 0 ? 'pass' : failing.join(', ')}`,
    ].join('\n') + '\n');
    const ok = failing.length === 0 && report.outcome === 'done' && report.counts.compensated === args.sagas
      && report.refunded === plan.refund && report.restocked === plan.restock;
    return ok ? 0 : 1;
  } finally {
    await client.close();
    await pool.end().catch(() => undefined);
    await admin(args.baseUrl, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch((err) =>
      say(`bench:bulk: could not drop ${dbName}: ${(err as Error).message}`));
  }
}

main().then((code) => { process.exitCode = code; }, (err) => {
  process.stderr.write(`bench:bulk: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
