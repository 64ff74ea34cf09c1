import crypto from 'node:crypto';
import { Client } from 'pg';
import { AppError, EXIT, UnreachableError } from '../errors';
import { maskUrl } from '../config';
import { PG, pgCode } from '../db/pg-errors';
import { quoteIdent } from './sql';

/**
 * Runs `fn` on a throwaway database created on the server at `serverUrl` (any database there serves
 * to connect), with `schema` as its search_path, and drops it afterwards whatever happens.
 */
export async function withScratchDatabase<T>(serverUrl: string, schema: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const admin = new Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000, application_name: 'sagactl:scratch' });
  admin.on('error', () => undefined);
  try {
    await admin.connect();
  } catch (err) {
    await admin.end().catch(() => undefined);
    throw new UnreachableError(`Cannot reach the scratch server at ${maskUrl(serverUrl)}: ${(err as Error).message}.`,
      'The schema check builds the migrations in a throwaway database there; give a reachable server with --scratch-url.');
  }
  const name = `sagactl_scratch_${crypto.randomBytes(6).toString('hex')}`;
  try {
    await createDatabase(admin, name, serverUrl);
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    const client = new Client({ connectionString: url.toString(), application_name: 'sagactl:scratch', options: '-c TimeZone=UTC' });
    client.on('error', () => undefined);
    try {
      await client.connect();
      if (schema !== 'public') await client.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
      await client.query(`SELECT set_config('search_path', $1, false)`, [quoteIdent(schema)]);
      return await fn(client);
    } finally {
      await client.end().catch(() => undefined);
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`).catch(() => undefined);
    }
  } finally {
    await admin.end().catch(() => undefined);
  }
}

async function createDatabase(admin: Client, name: string, serverUrl: string): Promise<void> {
  try {
    // template0: what the migrations alone produce, without whatever template1 holds on this server.
    await admin.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0`);
  } catch (err) {
    if (pgCode(err) === PG.insufficientPrivilege) {
      throw new AppError(`The role lacks CREATEDB on ${maskUrl(serverUrl)}: the schema check builds the applied migrations in a ` +
        'throwaway database to compare with this one.', EXIT.unreachable,
      'Give --scratch-url a server where this role may create databases (a CI service container will do), or grant CREATEDB.');
    }
    throw err;
  }
}
