import crypto from 'node:crypto';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { Client } from 'pg';

/** sagactl's executable, from the package the example depends on (this repository). */
export const SAGACTL = path.join(path.dirname(require.resolve('sagactl/package.json')), 'bin', 'sagactl');

export const LOCAL_SERVER = 'postgres://postgres@127.0.0.1:5432/postgres';

export function serverUrl(): string {
  const url = process.env.NEST_TEST_SERVER_URL;
  if (!url) throw new Error('global-setup did not run: NEST_TEST_SERVER_URL is unset');
  return url;
}

export function urlFor(database: string, base = serverUrl()): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function admin<T>(fn: (c: Client) => Promise<T>, base = serverUrl()): Promise<T> {
  const client = new Client({ connectionString: urlFor('postgres', base), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  json(): any;
}

/** `sagactl ARGS` as a subprocess, as an operator or CI runs it; killed after `timeoutMs`. */
export function sagactl(args: string[], env: { databaseUrl: string; redisUrl?: string }, timeoutMs = 60_000): Promise<CliResult> {
  const clean: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', DATABASE_URL: env.databaseUrl };
  for (const k of ['CI', 'REDIS_URL', 'DB_HOST', 'DB_PORT', 'DB_USERNAME', 'DB_PASSWORD', 'DB_NAME', 'PGHOST', 'PGDATABASE']) delete clean[k];
  if (env.redisUrl) clean.REDIS_URL = env.redisUrl;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SAGACTL, ...args], { env: clean, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sagactl ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, json: () => JSON.parse(stdout) });
    });
  });
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/**
 * A database of its own on the test server, built the way a deployment builds it: `sagactl migrate
 * up`, then `seed fixtures` (the design's users and items) and, for load, generated users and items.
 */
export async function createDatabase(label: string, opts: { generated?: boolean } = {}): Promise<TestDatabase> {
  const name = `sagactl_nest_${label}_${crypto.randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = urlFor(name);
  const steps = [['migrate', 'up'], ['seed', 'fixtures'],
    ...(opts.generated ? [['seed', 'generate', '--users', '100', '--items', '10', '--balance', '1000000.00', '--stock', '1000000']] : [])];
  for (const step of steps) {
    const r = await sagactl([...step, '--json'], { databaseUrl: url });
    if (r.code !== 0) throw new Error(`sagactl ${step.join(' ')} exited ${r.code}: ${r.stderr}`);
  }
  return { name, url, drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined) };
}
