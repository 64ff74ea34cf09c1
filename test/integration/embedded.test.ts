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

const asRoot = process.getuid?.() === 0 ? test : test.skip;

asRoot('as root, a SAGACTL_HOME behind a folder the postgres user cannot enter still works: the server\'s files go where it can reach them, and HOME says where', async () => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-private-')); // 0700, root's
  const privateHome = path.join(parent, 'home');
  let server = '';
  try {
    const first = await runMain(['migrate', 'up', '--json'], { SAGACTL_HOME: privateHome });
    expect([first.code, first.code === 0 ? '' : first.stderr]).toEqual([0, '']);
    server = fs.readFileSync(path.join(privateHome, 'server-dir'), 'utf8').trim();
    expect(server).toMatch(/^\/var\/lib\/sagactl\/[0-9a-f]{16}$/);
    expect(first.stderr).toContain(`as root: the postgres user cannot enter ${parent} (mode 700), so the server's files are kept in ${server}`);
    expect(first.stderr).toContain(`To keep them in ${privateHome}: \`chmod o+x ${parent}\``);
    expect(first.stderr).toContain(`initialising the embedded PostgreSQL in ${server}/data (once)`);
    const postgresUid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout);
    expect(fs.statSync(path.join(server, 'data')).uid).toBe(postgresUid);
    expect(fs.statSync(path.join(server, 'data')).mode & 0o777).toBe(0o700);
    expect(fs.statSync(server).mode & 0o777).toBe(0o755);
    expect(fs.existsSync(path.join(privateHome, 'data'))).toBe(false);
    expect(fs.statSync(path.join(privateHome, 'password')).mode & 0o777).toBe(0o600); // the secret stays with root
    // Started for the command, stopped after it; the next command finds it all again.
    expect(embeddedStatus(privateHome)).toEqual({ running: false });
    const second = await runMain(['migrate', 'status', '--check'], { SAGACTL_HOME: privateHome });
    expect(second.code).toBe(0);
    expect(second.stderr).not.toContain('as root:');
    expect(second.stderr).not.toContain('initialising');
  } finally {
    await runMain(['db', 'stop'], { SAGACTL_HOME: privateHome });
    fs.rmSync(parent, { recursive: true, force: true });
    if (server) fs.rmSync(server, { recursive: true, force: true });
  }
}, 120_000);

asRoot('as root, when the fallback folder is out of reach too: exit 2 naming the first blocked folder and the fix; nothing half made', async () => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-private-'));
  const privateHome = path.join(parent, 'home');
  try {
    const err = await acquireEmbedded(privateHome, () => undefined, { serverBase: path.join(parent, 'servers') }).catch((e) => e);
    expect(err).toMatchObject({ exitCode: 2, code: 'USAGE' });
    expect(err.message).toBe(`As root, the embedded PostgreSQL runs as the postgres user, which cannot enter ${parent} (mode 700), ` +
      `above ${privateHome}; nor ${parent}, where its files would go instead.`);
    expect(err.hint).toBe(`Run \`chmod o+x ${parent}\` (others may then pass through that folder, not list it), or set SAGACTL_HOME to a folder the postgres user can reach.`);
    expect(fs.existsSync(path.join(privateHome, 'server-dir'))).toBe(false);
    expect(fs.existsSync(path.join(privateHome, 'data'))).toBe(false);
    expect(fs.existsSync(path.join(parent, 'servers'))).toBe(false);
    // The fix it names works: the same home, once the folder is passable, keeps its files in place.
    fs.chmodSync(parent, 0o711);
    const lease = await acquireEmbedded(privateHome, () => undefined, { serverBase: path.join(parent, 'servers') });
    await lease.release();
    expect(fs.existsSync(path.join(privateHome, 'data', 'PG_VERSION'))).toBe(true);
    expect(fs.existsSync(path.join(privateHome, 'server-dir'))).toBe(false);
  } finally {
    fs.rmSync(parent, { recursive: true, force: true });
  }
}, 120_000);

asRoot('as root, data left at the fallback by an earlier checkout at the same path is set aside, never reused', async () => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-private-'));
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-servers-'));
  fs.chmodSync(base, 0o755);
  const privateHome = path.join(parent, 'home');
  try {
    fs.mkdirSync(privateHome);
    const crypto = require('node:crypto') as typeof import('node:crypto');
    const server = path.join(base, crypto.createHash('sha256').update(fs.realpathSync(privateHome)).digest('hex').slice(0, 16));
    fs.mkdirSync(path.join(server, 'data'), { recursive: true });
    fs.writeFileSync(path.join(server, 'data', 'PG_VERSION'), '17\n'); // someone else's cluster, its password gone with its checkout
    const lines: string[] = [];
    const lease = await acquireEmbedded(privateHome, (l) => lines.push(l), { serverBase: base });
    await lease.release();
    expect(fs.readFileSync(path.join(privateHome, 'server-dir'), 'utf8').trim()).toBe(server);
    expect(fs.readFileSync(path.join(server, 'data', 'PG_VERSION'), 'utf8').trim()).toBe('18');
    const aside = fs.readdirSync(server).filter((f) => f.startsWith('data.orphaned-'));
    expect(aside).toHaveLength(1);
    expect(fs.readFileSync(path.join(server, aside[0], 'PG_VERSION'), 'utf8')).toBe('17\n');
    expect(lines.some((l) => l.startsWith(`as root: the postgres user cannot enter ${parent} (mode 700)`))).toBe(true);
  } finally {
    fs.rmSync(parent, { recursive: true, force: true });
    fs.rmSync(base, { recursive: true, force: true });
  }
}, 120_000);

asRoot('as root, a server folder the postgres user cannot reach (moved there by hand): exit 4, where to look, no half-made data folder', async () => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-private-'));
  const home2 = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-home-'));
  try {
    fs.writeFileSync(path.join(home2, 'server-dir'), `${path.join(parent, 'server')}\n`);
    fs.mkdirSync(path.join(parent, 'server'));
    const r = await runMain(['migrate', 'status'], { SAGACTL_HOME: home2 });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`error: Could not initialise the embedded PostgreSQL in ${parent}/server/data`);
    expect(r.stderr).toContain(`See ${parent}/server and its folders' permissions.`);
    expect(fs.existsSync(path.join(parent, 'server', 'data'))).toBe(false);
  } finally {
    fs.rmSync(parent, { recursive: true, force: true });
    fs.rmSync(home2, { recursive: true, force: true });
  }
}, 60_000);
