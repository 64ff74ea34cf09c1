import type { QueryRunner } from 'typeorm';
import { Db } from '../db/pool';
import { CheckFailedError } from '../errors';
import { HISTORY_TABLE_SQL, INSERT_HISTORY_SQL, historyExists, historyParams, readHistory } from './history';
import { Migration } from './loader';
import { compareHistory, selectPending } from './runner';

export interface PlannedStatement {
  sql: string;
  params?: unknown[];
}

export interface PlannedMigration {
  name: string;
  transactional: boolean;
  statements: PlannedStatement[];
}

/**
 * The SQL `up` would run, with its transaction boundaries and bookkeeping. Each migration's
 * statements are captured by a query runner that records instead of executing, so nothing a
 * migration says reaches the database; the database is only read, for the history.
 */
export async function buildPlan(db: Db, migrations: Migration[], opts: { to?: string } = {}): Promise<PlannedMigration[]> {
  const client = await db.pool.connect();
  let exists: boolean;
  let status;
  try {
    exists = await historyExists(client);
    status = compareHistory(await readHistory(client), migrations);
  } finally {
    client.release();
  }
  if (status.changed.length > 0) {
    throw new CheckFailedError(`Applied migrations were changed since they ran: ${status.changed.map((c) => c.name).join(', ')}.`);
  }
  const plan: PlannedMigration[] = [];
  if (!exists) plan.push({ name: '(history table)', transactional: false, statements: [{ sql: HISTORY_TABLE_SQL }] });
  for (const m of selectPending(status, migrations, opts.to)) {
    const captured: PlannedStatement[] = [];
    const recorder = { query: async (sql: string, params?: unknown[]) => { captured.push(params?.length ? { sql, params } : { sql }); return []; } };
    await m.instance.up(recorder as unknown as QueryRunner);
    const record = { sql: INSERT_HISTORY_SQL, params: historyParams(m.name, m.checksum, m.transactional, 0) };
    const statements = m.transactional ? [{ sql: 'BEGIN' }, ...captured, record, { sql: 'COMMIT' }] : [...captured, record];
    plan.push({ name: m.name, transactional: m.transactional, statements });
  }
  return plan;
}
