import crypto from 'node:crypto';
import { Client } from 'pg';
import { createDb, createPool, Db } from '../../src/db/pool';

/** The server tests run against (set by global-setup) and the template migrated once. */
export const TEMPLATE_DB = 'sagactl_test_template';

export function serverUrl(): string {
  const url = process.env.SAGACTL_TEST_SERVER_URL;
  if (!url) throw new Error('global-setup did not run: SAGACTL_TEST_SERVER_URL is unset');
  return url;
}

export function urlFor(database: string, base = serverUrl()): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function admin<T>(fn: (client: Client) => Promise<T>, base = serverUrl()): Promise<T> {
  const client = new Client({ connectionString: urlFor('postgres', base) });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface TestDb {
  name: string;
  url: string;
  db: Db;
  drop(): Promise<void>;
}

/** A database of its own for one test file: a copy of the migrated template, or empty. */
export async function createTestDb(opts: { empty?: boolean } = {}): Promise<TestDb> {
  const name = `sagactl_t_${crypto.randomBytes(5).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}${opts.empty ? '' : ` TEMPLATE ${TEMPLATE_DB}`}`));
  const url = urlFor(name);
  const pool = createPool(url, 10, 'sagactl-test', 5000);
  return {
    name,
    url,
    db: createDb(pool, url),
    async drop() {
      await pool.end();
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
