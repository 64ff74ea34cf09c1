import os from 'node:os';
import { Pool, PoolClient, QueryResultRow, types } from 'pg';
import { UnreachableError } from '../errors';
import { maskUrl } from '../config';
import { PG, pgCode } from './pg-errors';

/** The one way the core talks SQL: parameterised text, a pool, and a transaction helper. */
export interface Db {
  query<R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
  withTransaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T>;
  pool: Pool;
  url: string;
}

export function applicationName(command: string): string {
  return `sagactl:${command}:${os.hostname()}:${process.pid}`.slice(0, 63);
}

// The design's columns are TIMESTAMP without time zone. Every session runs in UTC and reads them
// back as UTC, so times agree whatever the server's or this machine's time zone is.
const TIMESTAMP_OID = 1114;
types.setTypeParser(TIMESTAMP_OID, (text) => new Date(`${text.replace(' ', 'T')}Z`));

export function createPool(url: string, max: number, appName: string, connectTimeoutMs: number): Pool {
  const pool = new Pool({
    connectionString: url,
    max,
    application_name: appName,
    connectionTimeoutMillis: connectTimeoutMs,
    options: '-c TimeZone=UTC',
  });
  // An idle client that dies (server restart) must not crash the process.
  pool.on('error', () => undefined);
  return pool;
}

export function createDb(pool: Pool, url: string): Db {
  return {
    pool,
    url,
    async query(sql, params) {
      return (await pool.query(sql, params as unknown[])).rows;
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
        const result = await fn(client);
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

/** A transaction's client seen as a Db for queries, so core functions run inside or outside one. */
export function queryOver(client: PoolClient): Pick<Db, 'query'> {
  return { query: async (sql, params) => (await client.query(sql, params as unknown[])).rows };
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
    return new UnreachableError(`Authentication failed for ${target}.`, 'Check the user name and password.');
  }
  if (code === PG.unknownDatabase) {
    const db = new URL(url).pathname.slice(1);
    return new UnreachableError(`The database "${db}" does not exist on ${target}.`, `Create it first: createdb ${db}`);
  }
  return new UnreachableError(`Cannot reach PostgreSQL at ${target}: ${message.replace(url, target)}`,
    'Is the server running and the host and port right?');
}
