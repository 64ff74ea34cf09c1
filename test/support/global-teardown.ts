import { admin, runPrefix } from './database';

/** Drops this run's databases (the template and any a failed test file left), and no one else's. */
export default async function globalTeardown(): Promise<void> {
  await admin(async (c) => {
    const { rows } = await c.query('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [`${runPrefix()}_`]);
    for (const r of rows) await c.query(`DROP DATABASE IF EXISTS ${r.datname} WITH (FORCE)`);
  }).catch(() => undefined);
  const lease = (globalThis as { __embeddedLease?: { release(): Promise<void> } }).__embeddedLease;
  await lease?.release();
}
