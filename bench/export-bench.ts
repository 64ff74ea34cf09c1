import crypto from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { maskUrl } from '../src/config';
import { admin, urlFor, benchArgs, DEFAULT_SERVER, median, must, peakRssKiB, runCli } from './support';

/**
 * npm run bench:export [-- --sagas N] [--repeat R] [--database-url URL] [--keep] [--json]
 *
 * The target: `saga export` of N sagas runs within 2x of a plain COPY ... TO STDOUT of
 * the same rows, with memory flat. For each of two sizes, N and N/10 (the second is the memory
 * comparison), a fresh database is migrated and seeded with `seed generate --sagas` (users N/100,
 * items 100), then:
 *   copy    every row the export reads, as plain COPY (SELECT ...) TO STDOUT of each table it
 *           reads (sagas, steps, logs, notifications, events, audit, the ledger, users, items),
 *           consumed and counted by this process; timed from the first COPY to the last byte;
 *   export  `sagactl saga export --output /dev/null --jobs J --json` (J = 1, then 2) as a child
 *           process of the built binary under /usr/bin/time: its own seconds (from its first query
 *           to its last write), its wall time, and its peak RSS (max resident set, KiB).
 * Each size runs R rounds (3 by default) of the three, in turns (the order reversed every other
 * round, so a drift of the machine weighs on each alike); times are the medians of the rounds,
 * peak RSS the largest. A 2-core machine moves single runs by a third either way.
 * Nothing here holds a row: COPY is streamed into a byte counter, and the export is another
 * process. Exit 0 on PASS (the better median ratio <= 2 at N), 1 on FAIL, 2 on usage.
 */
const TARGET_RATIO = 2;

interface Args { baseUrl: string; sagas: number; repeat: number; keep: boolean; json: boolean }

const USAGE = 'usage: npm run bench:export -- [--sagas N (100000)] [--repeat R (3)] [--database-url URL] [--keep] [--json]';

function parseArgs(argv: string[]): Args {
  return benchArgs<Args>('export', USAGE, argv, { baseUrl: DEFAULT_SERVER, sagas: 100_000, repeat: 3, keep: false, json: false },
    { '--database-url': ['baseUrl', 'text'], '--sagas': ['sagas', [1000, 100_000_000]], '--repeat': ['repeat', [1, 9]], '--keep': ['keep', 'switch'], '--json': ['json', 'switch'] });
}

/** Every row `saga export` (no FILTERS) reads, as plain COPY of each table. */
const COPIES = ['saga_states', 'saga_step_results', 'transaction_logs', 'notifications', 'saga_events', 'operator_audit', 'ledger', 'users', 'items']
  .map((t) => `COPY (SELECT * FROM ${t}) TO STDOUT`);

async function timeCopy(url: string): Promise<{ seconds: number; bytes: number }> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    let bytes = 0;
    const started = process.hrtime.bigint();
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    for (const sql of COPIES) {
      await pipeline(client.query(copyTo(sql)), new Writable({ write(chunk, _enc, done) { bytes += chunk.length; done(); } }));
    }
    await client.query('COMMIT');
    return { seconds: Number(process.hrtime.bigint() - started) / 1e9, bytes };
  } finally {
    await client.end();
  }
}

interface Run { seconds: number; wallSeconds: number; bytes: number; peakRssKiB: number }
interface Export { jobs: number; seconds: number; wallSeconds: number; bytes: number; sagasPerSecond: number; peakRssKiB: number; ratio: number }
interface Trial { sagas: number; rounds: number; copy: { seconds: number; bytes: number; sagasPerSecond: number }; exports: Export[] }

/** `saga export --jobs N` of the whole database to /dev/null, under /usr/bin/time for its peak RSS. */
async function timeExport(env: Record<string, string>, sagas: number, jobs: number): Promise<Run> {
  const started = process.hrtime.bigint();
  const r = await must('saga export', runCli(['saga', 'export', '--output', '/dev/null', '--jobs', String(jobs), '--json', '--quiet'], env, true));
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const summary = JSON.parse(r.stdout);
  if (summary.sagas !== sagas) throw new Error(`the export wrote ${summary.sagas} sagas, not ${sagas}`);
  return { seconds: summary.seconds, wallSeconds, bytes: summary.bytes, peakRssKiB: peakRssKiB(r) };
}

const JOBS = [1, 2];

async function trial(args: Args, sagas: number): Promise<Trial> {
  const db = `sagactl_bench_export_${crypto.randomBytes(4).toString('hex')}`;
  await admin(args.baseUrl, `CREATE DATABASE ${db}`);
  const env = { DATABASE_URL: urlFor(args.baseUrl, db) };
  try {
    await must('migrate up', runCli(['migrate', 'up', '--quiet'], env));
    await must('seed generate', runCli(['seed', 'generate', '--users', String(Math.max(100, Math.floor(sagas / 100))), '--items', '100',
      '--sagas', String(sagas), '--quiet'], env));
    await admin(args.baseUrl, 'CHECKPOINT');
    const copies: { seconds: number; bytes: number }[] = [];
    const runs = new Map<number, Run[]>(JOBS.map((j) => [j, []]));
    for (let round = 0; round < args.repeat; round++) {
      const turns: (() => Promise<void>)[] = [
        async () => void copies.push(await timeCopy(env.DATABASE_URL)),
        ...JOBS.map((j) => async () => void runs.get(j)!.push(await timeExport(env, sagas, j))),
      ];
      for (const turn of round % 2 === 0 ? turns : turns.reverse()) await turn();
    }
    const copySeconds = median(copies.map((c) => c.seconds));
    const exports = JOBS.map((jobs) => {
      const rs = runs.get(jobs)!;
      const seconds = median(rs.map((r) => r.seconds));
      return { jobs, seconds, wallSeconds: median(rs.map((r) => r.wallSeconds)), bytes: rs[0].bytes, sagasPerSecond: Math.round(sagas / seconds),
        peakRssKiB: Math.max(...rs.map((r) => r.peakRssKiB)), ratio: seconds / copySeconds };
    });
    return { sagas, rounds: args.repeat, copy: { seconds: copySeconds, bytes: copies[0].bytes, sagasPerSecond: Math.round(sagas / copySeconds) }, exports };
  } finally {
    if (!args.keep) await admin(args.baseUrl, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  process.stderr.write(`server: ${maskUrl(args.baseUrl)}; sizes ${args.sagas} and ${Math.floor(args.sagas / 10)}, ${args.repeat} rounds each\n`);
  const small = await trial(args, Math.floor(args.sagas / 10));
  const large = await trial(args, args.sagas);
  const best = Math.min(...large.exports.map((e) => e.ratio));
  const pass = best <= TARGET_RATIO;
  if (args.json) process.stdout.write(`${JSON.stringify({ targetRatio: TARGET_RATIO, pass, trials: [small, large] }, null, 2)}\n`);
  else {
    const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
    for (const t of [small, large]) {
      process.stdout.write(`${t.sagas} sagas, medians of ${t.rounds} rounds: COPY ${t.copy.sagasPerSecond} sagas/s (${(t.copy.bytes / 1e6).toFixed(1)} MB in ${t.copy.seconds.toFixed(2)} s)\n`);
      for (const e of t.exports) {
        process.stdout.write(`  export --jobs ${e.jobs}: ${e.sagasPerSecond} sagas/s (${(e.bytes / 1e6).toFixed(1)} MB in ${e.seconds.toFixed(2)} s, ` +
          `wall ${e.wallSeconds.toFixed(2)} s); ${e.ratio.toFixed(2)}x COPY's time; peak RSS ${mib(e.peakRssKiB)}\n`);
      }
    }
    process.stdout.write(`${pass ? 'PASS' : 'FAIL'}: export within ${TARGET_RATIO}x of COPY at ${large.sagas} sagas (best ${best.toFixed(2)}x); peak RSS ` +
      large.exports.map((e, i) => `--jobs ${e.jobs}: ${mib(small.exports[i].peakRssKiB)} at ${small.sagas}, ${mib(e.peakRssKiB)} at ${large.sagas}`).join('; ') + '\n');
  }
  process.exitCode = pass ? 0 : 1;
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
