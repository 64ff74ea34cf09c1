import os from 'node:os';
import { Pool, PoolClient, QueryConfig, QueryResult, QueryResultRow, types as pgTypes } from 'pg';
import { UnreachableError } from '../errors';
import { maskUrl } from '../config';
import { PG, pgCode } from './pg-errors';

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
  /** The server's URL when we made the pool; absent on an application's pool. */
  url?: string;
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

export function createPool(url: string, max: number, appName: string, connectTimeoutMs: number): Pool {
  const pool = new Pool({
    connectionString: url,
    max,
    application_name: appName,
    connectionTimeoutMillis: connectTimeoutMs,
    // Our own sessions run in UTC as a second guard; the SQL itself never depends on the session's zone.
    options: '-c TimeZone=UTC',
    types: SAGACTL_TYPES,
  });
  // An idle client that dies (server restart) must not crash the process.
  pool.on('error', () => undefined);
  return pool;
}

function txOver(client: PoolClient): Tx {
  return {
    client,
    query: (sql, params) => client.query(typed(sql, params)),
  };
}

export function createDb(pool: Pool, url?: string): Db {
  return {
    pool,
    url,
    async query(sql, params) {
      return (await pool.query(typed(sql, params))).rows;
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

export function unreachable(err: unknown, url: string): UnreachableError {
  const target = maskUrl(url);
  const code = pgCode(err);
  const message = err instanceof Error ? err.message : String(err);
  if (code === PG.invalidPassword || code === PG.invalidAuthorization) {
    return new UnreachableError(`Authentication failed for ${target}.`, 'Check the user name and password.', 'AUTH');
  }
  if (code === PG.unknownDatabase) {
    const db = new URL(url).pathname.slice(1);
    return new UnreachableError(`The database "${db}" does not exist on ${target}.`, `Create it first: createdb ${db}`);
  }
  return new UnreachableError(`Cannot reach PostgreSQL at ${target}: ${message.replace(url, target)}`,
    'Is the server running and the host and port right?');
}
