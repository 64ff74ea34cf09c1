import { Db } from '../db/pool';
import { CheckFailedError } from '../errors';
import { DELETE_HISTORY_SQL, HISTORY_TABLE_SQL, INSERT_HISTORY_SQL, historyExists, historyParams, readHistory } from './history';
import { Migration } from './loader';
import { compareHistory, DEFAULT_DDL_LOCK_TIMEOUT_MS, MigrationStatus, selectPending, selectToRevert } from './runner';
import { captureStatements } from './capture';
import { assertParses } from './lint';
import { msSetting } from './sql';

export interface PlannedStatement {
  sql: string;
  params?: unknown[];
}

export interface PlannedMigration {
  name: string;
  transactional: boolean;
  statements: PlannedStatement[];
  /** Set when the migration reads the database to decide: what follows depends on the answers. */
  incomplete?: string;
}

export interface PlanOptions {
  to?: string;
  ddlLockTimeoutMs?: number;
}

async function readStatus(db: Db, migrations: Migration[]): Promise<{ exists: boolean; status: MigrationStatus }> {
  const client = await db.pool.connect();
  try {
    return { exists: await historyExists(client), status: compareHistory(await readHistory(client), migrations) };
  } finally {
    client.release();
  }
}

/**
 * One migration as the runner sends it: under its lock_timeout, its history row written with it, in
 * one transaction unless it must run outside one. Captured by a query runner that records instead
 * of executing, so nothing a migration says reaches the database.
 */
async function planOne(m: Migration, direction: 'up' | 'down', ddlLockTimeoutMs: number): Promise<PlannedMigration> {
  const capture = await captureStatements(m, direction);
  const captured = capture.statements.map(({ sql, params }) => (params ? { sql, params } : { sql }));
  const record = direction === 'up'
    ? { sql: INSERT_HISTORY_SQL, params: historyParams(m, 0) }
    : { sql: DELETE_HISTORY_SQL, params: [m.name] };
  const timeout = { sql: `SELECT set_config('lock_timeout', $1, ${m.transactional})`, params: [msSetting(ddlLockTimeoutMs)] };
  const statements = m.transactional
    ? [{ sql: 'BEGIN' }, timeout, ...captured, record, { sql: 'COMMIT' }]
    : [timeout, ...captured, record];
  return { name: m.name, transactional: m.transactional, statements, ...(capture.incomplete ? { incomplete: capture.incomplete } : {}) };
}

/** The SQL `up` would run, with its transaction boundaries and bookkeeping; the database is only read. */
export async function buildPlan(db: Db, migrations: Migration[], opts: PlanOptions = {}): Promise<PlannedMigration[]> {
  const { exists, status } = await readStatus(db, migrations);
  if (status.changed.length > 0) {
    throw new CheckFailedError(`Applied migrations were changed since they ran: ${status.changed.map((c) => c.name).join(', ')}.`);
  }
  const pending = selectPending(status, migrations, opts.to);
  await assertParses(pending);
  const plan: PlannedMigration[] = [];
  if (!exists) plan.push({ name: '(history table)', transactional: false, statements: [{ sql: HISTORY_TABLE_SQL }] });
  for (const m of pending) plan.push(await planOne(m, 'up', opts.ddlLockTimeoutMs ?? DEFAULT_DDL_LOCK_TIMEOUT_MS));
  return plan;
}

/** What `down` would revert, newest first, and the SQL of each (`migrate down --dry-run`). */
export async function buildDownPlan(db: Db, migrations: Migration[], opts: { count?: number; to?: string; ddlLockTimeoutMs?: number }):
Promise<PlannedMigration[]> {
  const { status } = await readStatus(db, migrations);
  const plan: PlannedMigration[] = [];
  for (const m of selectToRevert(status, migrations, opts)) {
    plan.push(await planOne(m, 'down', opts.ddlLockTimeoutMs ?? DEFAULT_DDL_LOCK_TIMEOUT_MS));
  }
  return plan;
}
