import crypto from 'node:crypto';
import { Client } from 'pg';
import { createDb, createPool, Db } from '../../src/db/pool';

/**
 * Every run names its databases after itself (set by global-setup), so two runs on one server
 * (two developers, or CI beside a developer) never drop each other's databases.
 */
export function runPrefix(): string {
  const run = process.env.SAGACTL_TEST_RUN;
  if (!run) throw new Error('global-setup did not run: SAGACTL_TEST_RUN is unset');
  return `sagactl_t_${run}`;
}

/** The template migrated once per run; every test file clones it. */
export function templateDb(): string {
  return `${runPrefix()}_template`;
}

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
  const name = `${runPrefix()}_${crypto.randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}${opts.empty ? '' : ` TEMPLATE ${templateDb()}`}`));
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
