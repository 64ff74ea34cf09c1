import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Client } from 'pg';
import { runBin, runMain } from '../support/cli';
import { isAlive } from '../../src/db/file-lock';
import { acquireEmbedded, embeddedStatus } from '../../src/db/embedded';

/**
 * The embedded default, for real: a PostgreSQL from npm in a folder of its own. Each start costs
 * ~0.5-1 s, so the tests share one folder and start as few servers as they can.
 */
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-home-'));
const env = { SAGACTL_HOME: home };
afterAll(async () => {
  await runMain(['db', 'stop'], env);
  fs.rmSync(home, { recursive: true, force: true });
});

function serverPid(): number | undefined {
  try {
    return Number(fs.readFileSync(path.join(home, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
}
/** Running: postgres' own pid file names a live process. (A stopped postmaster may linger as a zombie until reaped, so its pid alone proves nothing.) */
const serverRunning = () => { const pid = serverPid(); return pid !== undefined && isAlive(pid); };
async function accepts(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid;

test('with nothing configured, commands run on the embedded server, started for each command and stopped after it', async () => {
  const up = await runBin(['migrate', 'up'], env);
  expect(up.code).toBe(0);
  const lines = up.stderr.split('\n');
  expect(lines[0]).toBe(`database: embedded PostgreSQL in ${home} (embedded default)`);
  expect(up.stderr).toContain(`initialising the embedded PostgreSQL in ${home}/data (once)`);
  expect(up.stdout).toMatch(/applied 1764000000000-create-tables[\s\S]*applied 1764000000100-design-indexes/);
  expect(serverRunning()).toBe(false);
  // Scram authentication, and a password only its owner may read.
  expect(fs.readFileSync(path.join(home, 'data', 'pg_hba.conf'), 'utf8')).toMatch(/^host\s+all\s+all\s+127\.0\.0\.1\/32\s+scram-sha-256/m);
  expect(fs.statSync(path.join(home, 'password')).mode & 0o777).toBe(0o600);

  // A registration and a folder lock left by a killed command neither block nor keep the server up.
  fs.writeFileSync(path.join(home, 'clients', `${deadPid()}-deadbeef`), '');
  fs.writeFileSync(path.join(home, 'lock'), String(deadPid()));
  const seeded = await runBin(['seed', 'fixtures', '--json'], env);
  expect(seeded.code).toBe(0);
  expect(seeded.stderr).not.toContain('initialising'); // the data folder is kept between commands
  expect(JSON.parse(seeded.stdout).users.inserted).toBe(3);
  expect(serverRunning()).toBe(false);
  expect(fs.readdirSync(path.join(home, 'clients'))).toEqual([]);
  expect(fs.existsSync(path.join(home, 'lock'))).toBe(false);
}, 120_000);

test('db start prints the URL and keeps it running; commands reuse it; a wrong password exits 4 unprinted; db stop stops it', async () => {
  // In-process, so the embedded server's code counts in the coverage too.
  const started = await runMain(['db', 'start'], env);
  expect(started.code).toBe(0);
  const url = started.stdout.trim();
  expect(url).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/sagactl$/);
  expect(started.stderr).toContain('the embedded server keeps running; stop it with: sagactl db stop');
  const pid = serverPid()!;
  expect(isAlive(pid)).toBe(true);
  expect(embeddedStatus(home)).toEqual({ running: true, url });

  // A second start and a command (a separate process) use the same server and leave it running.
  expect(JSON.parse((await runMain(['db', 'start', '--json'], env)).stdout)).toEqual({ running: true, home, url });
  const status = await runBin(['migrate', 'status', '--check'], env);
  expect(status.code).toBe(0);
  expect(status.stderr).not.toContain('starting the embedded PostgreSQL');
  expect(serverPid()).toBe(pid);
  expect(isAlive(pid)).toBe(true);
  // The URL printed is one a client can use.
  const client = new Client({ connectionString: url });
  await client.connect();
  expect((await client.query(`SELECT count(*)::int AS n FROM users`)).rows[0].n).toBe(3);
  await client.end();

  const wrong = new URL(url);
  wrong.password = 'not-the-password';
  const denied = await runBin(['migrate', 'status'], { DATABASE_URL: wrong.toString() });
  expect(denied.code).toBe(4);
  expect(denied.stderr.split('\n')[0]).toBe(`database: ${wrong.toString().replace('not-the-password', '****')} (DATABASE_URL)`);
  expect(denied.stderr).toContain('error: Authentication failed for');
  for (const secret of ['not-the-password', decodeURIComponent(new URL(url).password)]) {
    expect(denied.stderr + denied.stdout).not.toContain(secret);
  }

  const stopped = await runMain(['db', 'stop', '--json'], env);
  expect(JSON.parse(stopped.stdout)).toEqual({ stopped: true, home });
  expect(serverRunning()).toBe(false);
  expect(await accepts(url)).toBe(false);
  expect(embeddedStatus(home)).toEqual({ running: false });
  expect((await runMain(['db', 'stop'], env)).stdout).toBe('not running\n');
}, 120_000);

test('db stop while a command uses the server refuses (exit 3); the server stops when that command ends', async () => {
  const url = (await runMain(['db', 'start'], env)).stdout.trim();
  const lease = await acquireEmbedded(home, () => undefined);
  expect(lease.url).toBe(url);
  const refused = await runMain(['db', 'stop'], env);
  expect(refused.code).toBe(3);
  expect(refused.stderr).toContain('The embedded server is in use by running commands; it stops when the last one ends.');
  expect(serverRunning()).toBe(true);
  expect(await accepts(url)).toBe(true);
  await lease.release();
  expect(serverRunning()).toBe(false);
  expect(await accepts(url)).toBe(false);
}, 120_000);

test('in CI with nothing configured it refuses (exit 2) and starts nothing; --embedded says yes explicitly', async () => {
  const refused = await runBin(['migrate', 'status'], { ...env, CI: '1' });
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain('CI is set and no database is configured');
  expect(refused.stderr).not.toContain('database:');
  const explicit = await runMain(['migrate', 'status', '--embedded', '--check'], { ...env, CI: '1' });
  expect(explicit.code).toBe(0);
  expect(explicit.stderr.split('\n')[0]).toBe(`database: embedded PostgreSQL in ${home} (--embedded)`);
  expect(serverRunning()).toBe(false);
}, 120_000);

test('db start/stop refuse a server URL', async () => {
  for (const cmd of ['start', 'stop']) {
    const r = await runMain(['db', cmd, '--database-url', 'postgres://x@127.0.0.1/y'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('db start/stop manage the embedded server');
  }
});

test('db stop on a folder that never held a server says so', async () => {
  const r = await runMain(['db', 'stop', '--json'], { SAGACTL_HOME: path.join(home, 'never-used') });
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ stopped: false });
  expect(fs.existsSync(path.join(home, 'never-used'))).toBe(false);
});

test('three commands at once share one server; the last one out stops it', async () => {
  const runs = await Promise.all([1, 2, 3].map(() => runMain(['migrate', 'status', '--json'], env)));
  expect(runs.map((r) => r.code)).toEqual([0, 0, 0]);
  expect(serverRunning()).toBe(false);
  expect(fs.readdirSync(path.join(home, 'clients'))).toEqual([]);
}, 120_000);

(process.getuid?.() === 0 ? test : test.skip)('as root, a SAGACTL_HOME the postgres user cannot reach fails with exit 4 and says why', async () => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-private-')); // 0700, root's
  try {
    const r = await runMain(['migrate', 'status'], { SAGACTL_HOME: path.join(parent, 'home') });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`error: Could not initialise the embedded PostgreSQL in ${parent}/home/data`);
    expect(r.stderr).toContain('As root, every folder above SAGACTL_HOME must be reachable by the postgres user.');
    expect(fs.existsSync(path.join(parent, 'home', 'data'))).toBe(false); // a half-made data folder would block the next try
  } finally {
    fs.rmSync(parent, { recursive: true, force: true });
  }
}, 60_000);
