import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { maskUrl } from '../src/config';
import { admin, benchArgs, DEFAULT_SERVER, median, must, peakRssKiB, runCli, urlFor } from './support';

/**
 * npm run bench:import [-- --sagas N] [--repeat R] [--database-url URL] [--keep] [--json]
 *
 * How fast `saga import` restores a backup. For each of two sizes, N/10 and N (a rate that falls
 * with the size would say the import slows as the tables grow), a source database is migrated and
 * seeded with `seed generate --sagas` (users N/100, items 100) and exported to a file. Then R
 * rounds of:
 *   import  `sagactl saga import FILE --json` into a fresh, empty, migrated database, as a child
 *           process of the built binary under /usr/bin/time: its own seconds (from its first line
 *           to its audit row) and its peak RSS (max resident set, KiB);
 *   again   the same file imported again into that database: every record already there, each
 *           compared with what the database holds (the idempotent re-run after an interruption).
 * Times are the medians of the rounds, peak RSS the largest. There is no target in the issue:
 * the figures are for before/after comparisons. Exit 0 when every run imported what it should,
 * 1 otherwise, 2 on usage.
 */
interface Args { baseUrl: string; sagas: number; repeat: number; keep: boolean; json: boolean }

const USAGE = 'usage: npm run bench:import -- [--sagas N (100000)] [--repeat R (3)] [--database-url URL] [--keep] [--json]';

function parseArgs(argv: string[]): Args {
  return benchArgs<Args>('import', USAGE, argv, { baseUrl: DEFAULT_SERVER, sagas: 100_000, repeat: 3, keep: false, json: false },
    { '--database-url': ['baseUrl', 'text'], '--sagas': ['sagas', [1000, 100_000_000]], '--repeat': ['repeat', [1, 9]], '--keep': ['keep', 'switch'], '--json': ['json', 'switch'] });
}

interface Pass { seconds: number; sagasPerSecond: number; peakRssKiB: number }
interface Trial { sagas: number; rounds: number; bytes: number; import: Pass; again: Pass }

const newDb = (prefix: string) => `sagactl_bench_${prefix}_${crypto.randomBytes(4).toString('hex')}`;

/** One `saga import` under /usr/bin/time; `expected` is how many sagas it must import (0: all already there). */
async function timeImport(env: Record<string, string>, file: string, sagas: number, expected: number): Promise<{ seconds: number; peakRssKiB: number }> {
  const r = await runCli(['saga', 'import', file, '--json', '--quiet', '--reason', 'bench:import'], env, true);
  if (r.code !== 0) throw new Error(`saga import failed (exit ${r.code}): ${r.stderr.slice(-2000)}`);
  const summary = JSON.parse(r.stdout);
  if (summary.imported.saga !== expected || summary.imported.saga + summary.skipped.saga !== sagas || !summary.complete) {
    throw new Error(`the import read ${summary.imported.saga} new and ${summary.skipped.saga} known sagas (complete: ${summary.complete}), not ${expected} new of ${sagas}`);
  }
  return { seconds: summary.seconds, peakRssKiB: peakRssKiB(r) };
}

const pass = (sagas: number, runs: { seconds: number; peakRssKiB: number }[]): Pass => {
  const seconds = median(runs.map((r) => r.seconds));
  return { seconds, sagasPerSecond: Math.round(sagas / seconds), peakRssKiB: Math.max(...runs.map((r) => r.peakRssKiB)) };
};

async function trial(args: Args, sagas: number, dir: string): Promise<Trial> {
  const source = newDb('import_src');
  const file = path.join(dir, `${sagas}.ndjson`);
  await admin(args.baseUrl, `CREATE DATABASE ${source}`);
  try {
    const env = { DATABASE_URL: urlFor(args.baseUrl, source) };
    await must('migrate up', runCli(['migrate', 'up', '--quiet'], env));
    await must('seed generate', runCli(['seed', 'generate', '--users', String(Math.max(100, Math.floor(sagas / 100))), '--items', '100',
      '--sagas', String(sagas), '--quiet'], env));
    await must('saga export', runCli(['saga', 'export', '--output', file, '--quiet'], env));
  } finally {
    if (!args.keep) await admin(args.baseUrl, `DROP DATABASE IF EXISTS ${source} WITH (FORCE)`);
  }
  const firsts: { seconds: number; peakRssKiB: number }[] = [];
  const agains: { seconds: number; peakRssKiB: number }[] = [];
  for (let round = 0; round < args.repeat; round++) {
    const target = newDb('import');
    await admin(args.baseUrl, `CREATE DATABASE ${target}`);
    try {
      const env = { DATABASE_URL: urlFor(args.baseUrl, target) };
      await must('migrate up', runCli(['migrate', 'up', '--quiet'], env));
      await admin(args.baseUrl, 'CHECKPOINT');
      firsts.push(await timeImport(env, file, sagas, sagas));
      agains.push(await timeImport(env, file, sagas, 0));
      process.stderr.write(`${sagas} sagas, round ${round + 1}: import ${firsts[round].seconds.toFixed(2)} s, again ${agains[round].seconds.toFixed(2)} s\n`);
    } finally {
      if (!args.keep) await admin(args.baseUrl, `DROP DATABASE IF EXISTS ${target} WITH (FORCE)`);
    }
  }
  return { sagas, rounds: args.repeat, bytes: fs.statSync(file).size, import: pass(sagas, firsts), again: pass(sagas, agains) };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  process.stderr.write(`server: ${maskUrl(args.baseUrl)}; sizes ${Math.floor(args.sagas / 10)} and ${args.sagas}, ${args.repeat} rounds each\n`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-bench-import-'));
  try {
    const trials = [await trial(args, Math.floor(args.sagas / 10), dir), await trial(args, args.sagas, dir)];
    if (args.json) return void process.stdout.write(`${JSON.stringify({ trials }, null, 2)}\n`);
    const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
    for (const t of trials) {
      process.stdout.write(`${t.sagas} sagas (${(t.bytes / 1e6).toFixed(1)} MB), medians of ${t.rounds} rounds:\n` +
        `  import into an empty database: ${t.import.sagasPerSecond} sagas/s (${t.import.seconds.toFixed(2)} s); peak RSS ${mib(t.import.peakRssKiB)}\n` +
        `  again, every record already there: ${t.again.sagasPerSecond} sagas/s (${t.again.seconds.toFixed(2)} s); peak RSS ${mib(t.again.peakRssKiB)}\n`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
