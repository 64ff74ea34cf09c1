import os from 'node:os';
import path from 'node:path';
import { UsageError } from './errors';
import { parseDuration } from './duration';
import { formatOptions, parseOptions, ParsedOptions, parsePgDuration } from './db/session-options';
import { resolveTls, TlsSettings } from './db/tls';

/** Where the database comes from, resolved once: flag > DATABASE_URL > DB_* / PG* > embedded. */
export type DatabaseTarget =
  | { kind: 'server'; url: string; source: string }
  | { kind: 'embedded'; home: string; source: string };

export interface Config {
  database: DatabaseTarget;
  poolSize: number;
  /** Folder of the embedded server and other local state (SAGACTL_HOME, default ./.sagactl). */
  home: string;
  connectTimeoutMs: number;
  /** The saga cache (REDIS_URL); undefined when unset or with --no-cache. */
  redis?: RedisTarget;
  /** How long any statement of ours waits for a lock (lock_timeout), in ms: every wait is bounded. */
  lockTimeoutMs: number;
  /** statement_timeout of our own sessions in ms (0: none); undefined leaves the server's or role's own. */
  statementTimeoutMs?: number;
  /** The `options` of our own sessions: PGOPTIONS and the URL's options merged with the tool's settings. */
  sessionOptions: string;
  /** sslmode and sslrootcert, as libpq reads them. */
  tls: TlsSettings;
}

export interface ConfigFlags {
  databaseUrl?: string;
  embedded?: boolean;
  pool?: string;
  /** False with --no-cache (commander's negated option). */
  cache?: boolean;
  lockTimeout?: string;
  statementTimeout?: string;
}

export type Env = Record<string, string | undefined>;

const FIX_HINT = [
  'Set the database in one of these ways:',
  '  --database-url postgres://USER:PASSWORD@HOST:PORT/DB',
  '  DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/DB',
  '  DB_HOST, DB_PORT, DB_USERNAME, DB_PASSWORD, DB_NAME (or libpq PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE)',
  '  --embedded for the embedded PostgreSQL kept in ./.sagactl (SAGACTL_HOME)',
].join('\n');

export function defaultPoolSize(): number {
  // Measured on 2 cores: a pool of ~10 beats 32; connections beyond ~5 per core only queue.
  return Math.min(20, os.availableParallelism() * 4 + 2);
}

export function resolveConfig(flags: ConfigFlags, env: Env, cwd = process.cwd()): Config {
  const home = path.resolve(cwd, nonEmpty(env.SAGACTL_HOME) ?? '.sagactl');
  const database = resolveDatabase(flags, env, home);
  return {
    database,
    poolSize: resolvePoolSize(flags.pool ?? nonEmpty(env.DB_POOL_SIZE), flags.pool !== undefined ? '--pool' : 'DB_POOL_SIZE'),
    home,
    connectTimeoutMs: 5000,
    redis: flags.cache === false ? undefined : resolveRedis(env),
    ...resolveSession(flags, env, database),
    // The embedded server listens on loopback only and has no certificate.
    tls: database.kind === 'server' ? resolveTls(database.url, env) : { mode: 'disable', source: 'embedded server' },
  };
}

export const DEFAULT_LOCK_TIMEOUT_MS = 5000;
export const MAX_LOCK_TIMEOUT_MS = 30_000;
export const MAX_STATEMENT_TIMEOUT_MS = 86_400_000;

const TIMEOUT_HINT = 'Durations: 500ms, 5s, 2m (a bare number is seconds). In PGOPTIONS or options=, PostgreSQL\'s own units (5s, 5000, 1min).';

/**
 * The settings of our own sessions. Precedence for each: flag > DB_* variable > the URL's
 * options= > PGOPTIONS > the tool's default. TimeZone=UTC is always the tool's (the SQL writes
 * UTC, and a session in another zone would read it wrong). A statement timeout nobody gave is
 * not sent, so a role's or the server's own stays in force.
 */
function resolveSession(flags: ConfigFlags, env: Env, database: DatabaseTarget) {
  const fromEnv = parseOptions(nonEmpty(env.PGOPTIONS));
  const fromUrl = parseOptions(database.kind === 'server' ? new URL(database.url).searchParams.get('options') ?? undefined : undefined);
  const given = (name: string, flag: string | undefined, flagName: string, envName: string) => {
    if (flag !== undefined) return { raw: flag, from: flagName, pg: false };
    if (nonEmpty(env[envName]) !== undefined) return { raw: env[envName]!, from: envName, pg: false };
    for (const [o, from] of [[fromUrl, 'options= in the URL'], [fromEnv, 'PGOPTIONS']] as [ParsedOptions, string][]) {
      const s = o.settings.get(name);
      if (s) return { raw: s.value, from: `${from} (${s.name})`, pg: true };
    }
    return undefined;
  };
  const lock = given('lock_timeout', flags.lockTimeout, '--lock-timeout', 'DB_LOCK_TIMEOUT');
  const lockTimeoutMs = lock ? timeoutMs(lock, 1, MAX_LOCK_TIMEOUT_MS) : DEFAULT_LOCK_TIMEOUT_MS;
  if (lockTimeoutMs === 0) {
    throw new UsageError(`${lock!.from} must be from 1ms to 30s: 0 would let a statement wait for a lock forever.`, TIMEOUT_HINT);
  }
  const statement = given('statement_timeout', flags.statementTimeout, '--statement-timeout', 'DB_STATEMENT_TIMEOUT');
  const statementTimeoutMs = statement ? timeoutMs(statement, 0, MAX_STATEMENT_TIMEOUT_MS) : undefined;
  const settings = new Map([...fromEnv.settings, ...fromUrl.settings]);
  settings.delete('timezone');
  settings.delete('lock_timeout');
  settings.delete('statement_timeout');
  const ours = [{ name: 'TimeZone', value: 'UTC' }, { name: 'lock_timeout', value: `${lockTimeoutMs}ms` },
    ...(statementTimeoutMs === undefined ? [] : [{ name: 'statement_timeout', value: `${statementTimeoutMs}ms` }])];
  return { lockTimeoutMs, statementTimeoutMs, sessionOptions: formatOptions([...ours, ...settings.values()], [...fromEnv.other, ...fromUrl.other]) };
}

function timeoutMs(given: { raw: string; from: string; pg: boolean }, min: number, max: number): number {
  const ms = given.pg ? parsePgDuration(given.raw) : parseDuration(given.raw, given.from);
  const range = `from ${min === 0 ? '0 (none)' : '1ms'} to ${max === MAX_LOCK_TIMEOUT_MS ? '30s' : '24h'}`;
  if (ms === undefined || (ms !== 0 && ms < min) || ms > max) {
    throw new UsageError(`${given.from} must be a duration ${range}, got "${given.raw}".`, TIMEOUT_HINT);
  }
  return ms;
}

function resolveDatabase(flags: ConfigFlags, env: Env, home: string): DatabaseTarget {
  if (flags.databaseUrl !== undefined) {
    if (flags.embedded) throw new UsageError('--database-url and --embedded exclude each other.', FIX_HINT);
    return { kind: 'server', url: validateUrl(flags.databaseUrl, '--database-url'), source: '--database-url' };
  }
  if (flags.embedded) return { kind: 'embedded', home, source: '--embedded' };
  const envUrl = nonEmpty(env.DATABASE_URL);
  if (envUrl) return { kind: 'server', url: validateUrl(envUrl, 'DATABASE_URL'), source: 'DATABASE_URL' };
  const fromParts = urlFromParts(env);
  if (fromParts) return fromParts;
  if (isCi(env)) {
    throw new UsageError(
      'CI is set and no database is configured: refusing to fall back to a throwaway embedded database.',
      FIX_HINT,
    );
  }
  return { kind: 'embedded', home, source: 'embedded default' };
}

function urlFromParts(env: Env): DatabaseTarget | undefined {
  const names = ['DB_HOST', 'DB_PORT', 'DB_USERNAME', 'DB_PASSWORD', 'DB_NAME', 'PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE'];
  const used = names.filter((n) => nonEmpty(env[n]) !== undefined);
  if (used.length === 0) return undefined;
  const pick = (a: string, b: string) => nonEmpty(env[a]) ?? nonEmpty(env[b]);
  const port = pick('DB_PORT', 'PGPORT') ?? '5432';
  const portName = nonEmpty(env.DB_PORT) ? 'DB_PORT' : 'PGPORT';
  if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw new UsageError(`${portName} must be a port number from 1 to 65535, got "${port}".`, FIX_HINT);
  }
  const url = new URL('postgres://localhost');
  setHost(url, pick('DB_HOST', 'PGHOST') ?? 'localhost', nonEmpty(env.DB_HOST) ? 'DB_HOST' : 'PGHOST');
  url.port = port;
  // Encoded by hand: the setters leave '%' alone, and pg decodes the whole user info, so a
  // password holding '%' (or '%' followed by hex) would reach the server altered.
  url.username = encodeURIComponent(pick('DB_USERNAME', 'PGUSER') ?? 'postgres');
  url.password = encodeURIComponent(pick('DB_PASSWORD', 'PGPASSWORD') ?? '');
  url.pathname = '/' + (pick('DB_NAME', 'PGDATABASE') ?? 'saga_pattern');
  return { kind: 'server', url: url.toString(), source: used.join(', ') };
}

/**
 * URL's hostname setter ignores what it cannot parse ("db:5433", "my host") and keeps the old
 * host, which would silently send us to localhost: refuse instead. libpq also takes a socket
 * folder ("/var/run/postgresql") and a bare IPv6 address ("::1"), which a URL spells differently.
 */
function setHost(url: URL, host: string, from: string): void {
  if (host.startsWith('/')) {
    url.searchParams.set('host', host);
    return;
  }
  const wanted = host.includes(':') && /^[0-9a-f:.]+$/i.test(host) ? `[${host}]` : host;
  url.hostname = wanted;
  if (url.hostname !== wanted) {
    throw new UsageError(`${from} must be a host name, an IP address or a socket folder, got "${host}".`, FIX_HINT);
  }
}

export function validateUrl(raw: string, from: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${from} is not a valid URL: "${maskUrl(raw)}".`, FIX_HINT);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new UsageError(`${from} must start with postgres:// or postgresql://, got "${url.protocol}//".`, FIX_HINT);
  }
  if (!url.hostname) throw new UsageError(`${from} names no host.`, FIX_HINT);
  if (url.port && (Number(url.port) < 1 || Number(url.port) > 65535)) {
    throw new UsageError(`${from} has an invalid port ${url.port}.`, FIX_HINT);
  }
  return raw;
}

function resolvePoolSize(raw: string | undefined, from: string): number {
  if (raw === undefined) return defaultPoolSize();
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 500) {
    throw new UsageError(`${from} must be a whole number from 1 to 500, got "${raw}".`);
  }
  return Number(raw);
}

/** The URL with its password replaced, safe for logs and messages. */
export function maskUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '****';
    // pg also takes the password as a query parameter.
    for (const key of [...url.searchParams.keys()]) {
      if (key.toLowerCase() === 'password') url.searchParams.set(key, '****');
    }
    return url.toString();
  } catch {
    // Unparseable: mask up to the last '@', so a password holding an '@' leaks no part of itself.
    return raw.replace(/(\/\/[^:/@]*:).*@/, '$1****@').replace(/([?&]password=)[^&]*/gi, '$1****');
  }
}

export function isCi(env: Env): boolean {
  const ci = nonEmpty(env.CI);
  return ci !== undefined && ci !== 'false' && ci !== '0';
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

/**
 * Redis holds only a cache, so it must never cost a command more than a moment: a short connect
 * timeout, a per-command timeout, and no retries (a CLI process lives for seconds; it goes on
 * without the cache instead).
 */
export interface RedisTarget {
  url: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

const REDIS_HINT = 'Set REDIS_URL=redis://[USER:PASSWORD@]HOST:PORT[/DB] (rediss:// for TLS), unset it, or pass --no-cache.';

function resolveRedis(env: Env): RedisTarget | undefined {
  const raw = nonEmpty(env.REDIS_URL);
  if (raw === undefined) return undefined;
  return { url: validateRedisUrl(raw), connectTimeoutMs: 500, commandTimeoutMs: 500 };
}

export function validateRedisUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`REDIS_URL is not a valid URL: "${maskUrl(raw)}".`, REDIS_HINT);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new UsageError(`REDIS_URL must start with redis:// or rediss://, got "${url.protocol}//".`, REDIS_HINT);
  }
  if (!url.hostname) throw new UsageError('REDIS_URL names no host.', REDIS_HINT);
  // URL itself rejects ports above 65535 and non-digits, but accepts 0.
  if (url.port !== '' && Number(url.port) < 1) throw new UsageError(`REDIS_URL has an invalid port ${url.port}.`, REDIS_HINT);
  const db = url.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,5}$/.test(db)) {
    throw new UsageError(`REDIS_URL must name a database number after the host (redis://HOST:PORT/0), got "/${db}".`, REDIS_HINT);
  }
  return raw;
}
