import os from 'node:os';
import { Client, Pool, PoolClient, QueryConfig, QueryResult, QueryResultRow, types as pgTypes } from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError, UnreachableError, UsageError } from '../errors';
import { maskUrl } from '../config';
import { isConnectionError, PG, pgCode } from './pg-errors';
import { formatOptions, parseOptions } from './session-options';
import { attemptsFor, connectionUrl, resolveTls, tlsFailure } from './tls';

/** A transaction's connection: queries only, each read with sagactl's type parsers. */
export interface Tx {
  query<R extends QueryResultRow = any>(sql: string | QueryConfig, params?: unknown[]): Promise<QueryResult<R>>;
  /** The pooled connection itself, for what needs it whole (COPY streams). */
  readonly client: PoolClient;
}

/** The one way the core talks SQL: parameterised text, a pool, and a transaction helper. */
export interface Db {
  query<R extends QueryResultRow = any>(sql: string | QueryConfig, params?: unknown[]): Promise<R[]>;
  withTransaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Our own pool, or the application's (then nothing of its sessions is changed). */
  pool: Pool;
  /** The server's URL when we made the pool, with the settings it connects with; absent on an application's pool. */
  url?: string;
  /** The same server as the user named it, for messages (mask it before printing). */
  label?: string;
}

export function applicationName(command: string): string {
  return `sagactl:${command}:${os.hostname()}:${process.pid}`.slice(0, 63);
}

const TIMESTAMP_OID = 1114;

/**
 * The design's columns are TIMESTAMP without time zone, written as UTC by every statement of ours
 * (timezone('UTC', now())). They are read back as UTC, whatever this machine's or the session's
 * time zone. Set per query, never globally: an application's own queries keep its own parsers.
 */
export const SAGACTL_TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === TIMESTAMP_OID && format !== 'binary') return (text: string) => new Date(`${text.replace(' ', 'T')}Z`);
    return pgTypes.getTypeParser(oid, format);
  },
};

/** A query as pg takes it, with our type parsers attached. */
export function typed(sql: string | QueryConfig, params?: unknown[]): QueryConfig {
  const config = typeof sql === 'string' ? { text: sql } : sql;
  return { ...config, values: params ?? config.values, types: SAGACTL_TYPES } as QueryConfig;
}

export interface PoolOptions {
  /**
   * Once the pool has reached the server, how long taking a connection may keep retrying when the
   * server cannot be reached (a restart, "too many clients"): no statement was sent, so it is
   * always safe to try again. 0: never retry. Default 30 s.
   */
  reconnectMs?: number;
}

const pidsOf = new WeakMap<Pool, Set<number>>();

/** The server process ids of this pool's open connections (what an interrupt cancels). */
export function backendPids(pool: Pool): number[] {
  return [...(pidsOf.get(pool) ?? [])];
}

/**
 * Our own pool. The URL is read as libpq reads it (session options merged, TimeZone=UTC ours,
 * sslmode with libpq's meanings: src/db/tls.ts); see normalizeUrl.
 */
export function createPool(url: string, max: number, appName: string, connectTimeoutMs: number, opts: PoolOptions = {}): Pool {
  const pool = new ReconnectingPool({
    connectionString: normalizeUrl(url),
    max,
    application_name: appName,
    connectionTimeoutMillis: connectTimeoutMs,
    types: SAGACTL_TYPES,
  }, opts.reconnectMs ?? 30_000);
  // An idle client that dies (server restart) must not crash the process.
  pool.on('error', () => undefined);
  const pids = new Set<number>();
  pidsOf.set(pool, pids);
  pool.on('connect', (client) => pids.add((client as unknown as { processID: number }).processID));
  pool.on('remove', (client) => pids.delete((client as unknown as { processID: number }).processID));
  return pool;
}

/**
 * The URL as node-postgres must get it so that it means what it means to libpq: the URL's
 * `options=` kept and merged with TimeZone=UTC (always ours: the SQL writes UTC), and sslmode
 * read with libpq's meanings. Without an sslmode the library connects as node-postgres does
 * (no TLS); the CLI resolves libpq's default (prefer) before it gets here (src/app.ts).
 * Idempotent: a normalized URL comes out unchanged.
 */
export function normalizeUrl(raw: string): string {
  const url = new URL(raw);
  const parsed = parseOptions(url.searchParams.get('options') ?? undefined);
  parsed.settings.set('timezone', { name: 'TimeZone', value: 'UTC' });
  const options = formatOptions(parsed.settings.values(), parsed.other);
  const tls = url.searchParams.has('sslmode') ? resolveTls(raw, {}) : undefined;
  return connectionUrl(raw, tls ? attemptsFor(tls.mode)[0] : 'disable', tls?.rootCert, options);
}

/**
 * Taking a connection waits for a server that went away (restart, full) instead of failing
 * every query at once: only once the server was reached (a wrong port still fails fast), and
 * only connection failures (a wrong password does not get better by trying).
 */
class ReconnectingPool extends Pool {
  private reached = false;

  constructor(config: ConstructorParameters<typeof Pool>[0], private readonly reconnectMs: number) {
    super(config);
  }

  connect(): Promise<PoolClient>;
  connect(cb: (err: Error | undefined, client?: PoolClient, done?: (release?: unknown) => void) => void): void;
  connect(cb?: (err: Error | undefined, client?: PoolClient, done?: (release?: unknown) => void) => void): Promise<PoolClient> | void {
    const connected = this.connectRetrying();
    if (!cb) return connected;
    connected.then((client) => cb(undefined, client, (release) => client.release(release as Error)), (err) => cb(err));
  }

  private async connectRetrying(): Promise<PoolClient> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        const client = await super.connect();
        this.reached = true;
        return client;
      } catch (err) {
        const left = this.reconnectMs - (Date.now() - started);
        if (!this.reached || this.ending || left <= 0 || !isConnectionError(err)) throw err;
        await sleep(Math.min(left, 100 * 2 ** Math.min(attempt, 4)) * (0.5 + Math.random() / 2));
      }
    }
  }
}

function txOver(client: PoolClient): Tx {
  return {
    client,
    query: (sql, params) => client.query(typed(sql, params)),
  };
}

export function createDb(pool: Pool, url?: string, label = url): Db {
  return {
    pool,
    url,
    label,
    async query(sql, params) {
      const started = Date.now();
      for (let attempt = 1; ; attempt++) {
        try {
          return (await pool.query(typed(sql, params))).rows;
        } catch (err) {
          // A read cut by a lost connection is simply read again (a write may have committed: never re-sent here).
          if (!isConnectionError(err) || !isRead(sql) || pool.ending || Date.now() - started > READ_RETRY_MS) throw err;
          await sleep(Math.min(2000, 50 * 2 ** attempt));
        }
      }
    },
    async withTransaction(fn) {
      const client = await pool.connect();
      // A connection cut mid-transaction (server restart, pg_terminate_backend) must surface as the
      // failing query's error, not as an unhandled 'error' event that kills the process.
      let lost: Error | undefined;
      const onError = (err: Error) => { lost = err; };
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const result = await fn(txOver(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.off('error', onError);
        client.release(lost);
      }
    },
  };
}

const READ_RETRY_MS = 30_000;

function isRead(sql: string | QueryConfig): boolean {
  return /^\s*SELECT\b/i.test(typeof sql === 'string' ? sql : sql.text);
}

/** How long the last words of an interrupted run may take to connect and to run, each. */
const LAST_WORDS_MS = 3000;

/**
 * What a run still has to write after Ctrl-C: its audit row, saying how far it got. The CLI ends
 * the pool at the first signal so that no new work starts (src/app.ts, interrupt), which would
 * refuse that row too; then it goes on one connection of its own, with the pool's settings and
 * bounded by LAST_WORDS_MS (withApp waits 5 s for the run to end). Only on a pool of ours: an
 * application that ended its own pool gets the pool's error.
 */
export async function lastWords<T>(db: Db, fn: (db: Pick<Db, 'query'>) => Promise<T>): Promise<T> {
  if (!db.pool.ending || !(db.pool instanceof ReconnectingPool)) return fn(db);
  const client = new Client({ ...db.pool.options, connectionTimeoutMillis: LAST_WORDS_MS, statement_timeout: LAST_WORDS_MS });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn({ query: async (sql, params) => (await client.query(typed(sql, params))).rows });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A transaction seen as a Db for queries, so core functions run inside or outside one. */
export function queryOver(tx: Tx): Pick<Db, 'query'> {
  return { query: async <R extends QueryResultRow>(sql: string | QueryConfig, params?: unknown[]) => (await tx.query<R>(sql, params)).rows };
}

/** Proves the server answers, turning every way it may not into one clear exit-4 error. */
export async function assertReachable(pool: Pool, url: string): Promise<void> {
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    throw unreachable(err, url);
  }
}

export function unreachable(err: unknown, url: string): AppError {
  const target = maskUrl(url);
  const code = pgCode(err);
  const message = err instanceof Error ? err.message : String(err);
  if (code === PG.invalidParameterValue || (code === PG.undefinedObject && /configuration parameter/i.test(message))) {
    return new UsageError(`${target} refused a session setting: ${message}.`,
      'Check PGOPTIONS and options= in the URL (-c name=value), --lock-timeout and --statement-timeout.');
  }
  if (code === PG.invalidPassword || code === PG.invalidAuthorization) {
    return new UnreachableError(`Authentication failed for ${target}: ${message}.`,
      'Check the user name and password, and pg_hba.conf on the server (it may demand TLS, or refuse it: see sslmode).', 'AUTH');
  }
  if (code === PG.unknownDatabase) {
    const db = new URL(url).pathname.slice(1);
    return new UnreachableError(`The database "${db}" does not exist on ${target}.`, `Create it first: createdb ${db}`);
  }
  const tls = tlsFailure(err);
  if (tls?.certificate) {
    return new UnreachableError(`TLS: the server's certificate at ${target} was refused: ${tls.reason}.`,
      'sslmode=verify-full checks the certificate against sslrootcert (or the system\'s CAs) and the host name; verify-ca ' +
      'only against sslrootcert; require encrypts without checking. Give sslrootcert=<the CA file that signed it>, or the host name the certificate names.');
  }
  if (tls) {
    return new UnreachableError(`TLS: cannot set up an encrypted connection to ${target}: ${tls.reason}.`,
      'The server has TLS off (ssl = off) while sslmode requires it: turn it on there, or use sslmode=prefer or disable.');
  }
  return new UnreachableError(`Cannot reach PostgreSQL at ${target}: ${message.replace(url, target)}`,
    'Is the server running and the host and port right?');
}
