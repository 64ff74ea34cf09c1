import path from 'node:path';
import { spawn } from 'node:child_process';
import { Client } from 'pg';
import { packageRoot } from '../src/paths';

/** The same server, another database: every benchmark works in a database of its own. */
export function urlFor(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

/** One statement on the server's `postgres` database (CREATE/DROP DATABASE). */
export async function admin(base: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: urlFor(base, 'postgres'), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** The server a benchmark creates its databases on: --database-url, else DATABASE_URL, else the local one. */
export const DEFAULT_SERVER = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

/** How a benchmark option is read: a switch (no value), a text, or a whole number from min (to max). */
export type OptionKind = 'switch' | 'text' | readonly [min: number, max?: number];

/**
 * A benchmark's command line: `options` maps each flag to the key of `defaults` it sets and how it
 * is read. A bad value or an unknown option prints the usage with the reason and exits 2 (nothing
 * is created); --help prints the usage and exits 0.
 */
export function benchArgs<T extends object>(bench: string, usage: string, argv: string[], defaults: T,
  options: Record<string, readonly [keyof T, OptionKind]>): T {
  const stop = (error?: string): never => {
    process.stderr.write(`${error ? `bench:${bench}: ${error}\n` : ''}${usage.endsWith('\n') ? usage : `${usage}\n`}`);
    process.exit(error ? 2 : 0);
  };
  const args = { ...defaults } as Record<keyof T, unknown>;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--help' || flag === '-h') stop();
    const option = options[flag];
    if (option === undefined) stop(`unknown option ${flag}`);
    const [key, kind] = option;
    if (kind === 'switch') {
      args[key] = true;
      continue;
    }
    const v = argv[++i];
    if (v === undefined) stop(`${flag} needs a value`);
    if (kind === 'text') {
      args[key] = v;
      continue;
    }
    const [min, max = Number.MAX_SAFE_INTEGER] = kind;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      stop(`${flag} must be a whole number ${kind[1] === undefined ? `>= ${min}` : `from ${min} to ${max}`}, got "${v}"`);
    }
    args[key] = Number(v);
  }
  return args as T;
}

export interface CliRun { code: number; stdout: string; stderr: string }

/**
 * The built CLI as a child process, as a user runs it; `timed` runs it under /usr/bin/time, whose
 * "maxrss=KiB" line (the peak resident set) ends its stderr.
 */
export function runCli(argv: string[], env: Record<string, string>, timed = false): Promise<CliRun> {
  const bin = path.join(packageRoot(), 'bin', 'sagactl');
  const [cmd, args] = timed ? ['/usr/bin/time', ['-f', 'maxrss=%M', process.execPath, bin, ...argv]] : [process.execPath, [bin, ...argv]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** A step the benchmark cannot go on without: its failure ends the run with the CLI's own words. */
export async function must(step: string, p: Promise<CliRun>): Promise<CliRun> {
  const r = await p;
  if (r.code !== 0) throw new Error(`${step} failed (exit ${r.code}): ${r.stderr.slice(-2000)}`);
  return r;
}

/** The peak RSS (KiB) /usr/bin/time reported for a timed run. */
export const peakRssKiB = (r: CliRun) => Number(/maxrss=(\d+)/.exec(r.stderr)?.[1] ?? NaN);

/** The middle value (the upper one of an even count): single runs on 2 cores move by a third. */
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
