import { admin, TEMPLATE_DB } from './database';

export default async function globalTeardown(): Promise<void> {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB} WITH (FORCE)`)).catch(() => undefined);
  // Leftover per-file databases from crashed runs would pile up; drop them all.
  await admin(async (c) => {
    const { rows } = await c.query(`SELECT datname FROM pg_database WHERE datname LIKE 'sagactl\\_t\\_%'`);
    for (const r of rows) await c.query(`DROP DATABASE IF EXISTS ${r.datname} WITH (FORCE)`);
  }).catch(() => undefined);
  const lease = (globalThis as { __embeddedLease?: { release(): Promise<void> } }).__embeddedLease;
  await lease?.release();
}
