import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { Client } from 'pg';
import { acquireEmbedded } from '../../src/db/embedded';
import { createDb, createPool } from '../../src/db/pool';
import { loadMigrations } from '../../src/migrate/loader';
import { runUp } from '../../src/migrate/runner';
import crypto from 'node:crypto';
import { admin, templateDb, urlFor } from './database';

const LOCAL = 'postgres://postgres@127.0.0.1:5432/postgres';

async function reachable(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

/**
 * Picks the server (TEST_DATABASE_URL, else 127.0.0.1:5432, else the embedded one) and
 * migrates a template database once; every test file clones it.
 */
export default async function globalSetup(): Promise<void> {
  let base = process.env.TEST_DATABASE_URL;
  if (!base && (await reachable(LOCAL))) base = LOCAL;
  if (!base) {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-test-'));
    const lease = await acquireEmbedded(home, () => undefined);
    (globalThis as { __embeddedLease?: unknown }).__embeddedLease = lease;
    base = lease.url;
    process.stderr.write(`\ntests run against the embedded PostgreSQL in ${home}\n`);
  }
  process.env.SAGACTL_TEST_SERVER_URL = base;
  process.env.SAGACTL_TEST_RUN = crypto.randomBytes(3).toString('hex');
  await admin((c) => c.query(`CREATE DATABASE ${templateDb()}`), base);
  const url = urlFor(templateDb(), base);
  const pool = createPool(url, 2, 'sagactl-test-setup', 5000);
  try {
    await runUp({ db: createDb(pool, url), migrations: loadMigrations(), lockTimeoutMs: 10_000, log: () => undefined });
  } finally {
    await pool.end();
  }
}
