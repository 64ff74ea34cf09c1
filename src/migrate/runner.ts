import type { PoolClient } from 'pg';
import type { QueryRunner } from 'typeorm';
import { Db } from '../db/pool';
import { AppError, CheckFailedError, EXIT, NotFoundError, StateError, UsageError } from '../errors';
import { Migration } from './loader';
import { withAdvisoryLock, LOCK_KEYS } from './lock';
import {
  AppliedMigration, DELETE_HISTORY_SQL, HISTORY_TABLE_SQL, INSERT_HISTORY_SQL, historyParams, readHistory,
} from './history';

export interface MigrateDeps {
  db: Db;
  migrations: Migration[];
  lockTimeoutMs: number;
  log: (line: string) => void;
}

export interface MigrationStatus {
  applied: { name: string; checksum: string; appliedAt: Date; durationMs: number; appliedBy: string; host: string }[];
  pending: { name: string }[];
  /** Applied migrations whose source no longer has the checksum recorded when they ran. */
  changed: { name: string; recorded: string; current: string }[];
  /** Applied migrations with no file any more. */
  missing: { name: string }[];
}

export interface RanMigration {
  name: string;
  checksum: string;
  transactional: boolean;
  durationMs: number;
}

export function compareHistory(history: AppliedMigration[], migrations: Migration[]): MigrationStatus {
  const byName = new Map(migrations.map((m) => [m.name, m]));
  const applied = new Set(history.map((h) => h.name));
  return {
    applied: history.map(({ name, checksum, appliedAt, durationMs, appliedBy, host }) =>
      ({ name, checksum, appliedAt, durationMs, appliedBy, host })),
    pending: migrations.filter((m) => !applied.has(m.name)).map((m) => ({ name: m.name })),
    changed: history
      .filter((h) => byName.has(h.name) && byName.get(h.name)!.checksum !== h.checksum)
      .map((h) => ({ name: h.name, recorded: h.checksum, current: byName.get(h.name)!.checksum })),
    missing: history.filter((h) => !byName.has(h.name)).map((h) => ({ name: h.name })),
  };
}

export async function getStatus(db: Db, migrations: Migration[]): Promise<MigrationStatus> {
  const client = await db.pool.connect();
  try {
    return compareHistory(await readHistory(client), migrations);
  } finally {
    client.release();
  }
}

function assertUnchanged(status: MigrationStatus): void {
  if (status.changed.length === 0) return;
  const names = status.changed.map((c) => c.name).join(', ');
  throw new CheckFailedError(`Applied migrations were changed since they ran: ${names}.`,
    'Restore their sources (see `sagactl migrate validate`); never edit an applied migration, add a new one.');
}

/** The pending migrations `up` would run, up to and including `to`. */
export function selectPending(status: MigrationStatus, migrations: Migration[], to?: string): Migration[] {
  if (to !== undefined && !migrations.some((m) => m.name === to)) {
    throw new UsageError(`--to names no migration: "${to}".`, `Known migrations: ${migrations.map((m) => m.name).join(', ')}`);
  }
  const pending = new Set(status.pending.map((p) => p.name));
  return migrations.filter((m) => pending.has(m.name) && (to === undefined || m.name <= to));
}

/** The applied migrations `down` would revert, newest first. */
export function selectToRevert(status: MigrationStatus, migrations: Migration[], opts: { count?: number; to?: string }): Migration[] {
  const applied = [...status.applied].reverse();
  let chosen: typeof applied;
  if (opts.to !== undefined) {
    if (opts.to !== '0' && !applied.some((a) => a.name === opts.to)) {
      throw new UsageError(`--to names no applied migration: "${opts.to}".`,
        `Applied: ${status.applied.map((a) => a.name).join(', ') || 'none'}; use --to 0 to revert them all.`);
    }
    chosen = applied.filter((a) => opts.to === '0' || a.name > opts.to!);
  } else {
    const count = opts.count ?? 1;
    if (count > applied.length) {
      throw new StateError(`Cannot revert ${count} migration(s): ${applied.length} applied.`);
    }
    chosen = applied.slice(0, count);
  }
  return chosen.map((a) => {
    const m = migrations.find((x) => x.name === a.name);
    if (!m) throw new NotFoundError(`Applied migration ${a.name} has no file, so it cannot be reverted.`);
    return m;
  });
}

export async function runUp(deps: MigrateDeps, opts: { to?: string } = {}): Promise<RanMigration[]> {
  return withMigrationClient(deps, async (client) => {
    // Re-read after the lock is won: a concurrent run may have applied everything meanwhile.
    const status = compareHistory(await readHistory(client), deps.migrations);
    assertUnchanged(status);
    const pending = selectPending(status, deps.migrations, opts.to);
    if (pending.length > 0) await client.query(HISTORY_TABLE_SQL);
    const ran: RanMigration[] = [];
    for (const m of pending) {
      ran.push(await apply(client, m, 'up', deps.log));
    }
    return ran;
  });
}

/**
 * `expected` is what the caller chose (and confirmed) before waiting for the lock: if another run
 * changed the history meanwhile, the same --count or --to now means other migrations, and
 * reverting them would undo something nobody confirmed, so nothing is reverted.
 */
export async function runDown(deps: MigrateDeps, opts: { count?: number; to?: string; expected?: string[] }): Promise<RanMigration[]> {
  return withMigrationClient(deps, async (client) => {
    const status = compareHistory(await readHistory(client), deps.migrations);
    const chosen = selectToRevert(status, deps.migrations, opts);
    const names = chosen.map((m) => m.name);
    if (opts.expected && names.join() !== opts.expected.join()) {
      throw new StateError(`The migration history changed while this command waited: it would now revert ${names.join(', ') || 'nothing'} ` +
        `instead of ${opts.expected.join(', ')}. Nothing was reverted.`, 'Check `sagactl migrate status`, then run the command again.');
    }
    const ran: RanMigration[] = [];
    for (const m of chosen) {
      ran.push(await apply(client, m, 'down', deps.log));
    }
    return ran;
  });
}

async function withMigrationClient<T>(deps: MigrateDeps, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const onWait = (holder: string) => deps.log(`waiting for the migration lock, held by ${holder}`);
  return withAdvisoryLock(deps.db.url ?? deps.db.pool.options, LOCK_KEYS.migrate, deps.lockTimeoutMs, onWait, async () => {
    const client = await deps.db.pool.connect();
    try {
      return await fn(client);
    } finally {
      client.release();
    }
  });
}

/**
 * One migration, one transaction, its history row in the same transaction. A migration that
 * cannot run in a transaction runs statement by statement, written to be re-run after a crash,
 * and its history row is written only once it succeeded.
 */
async function apply(client: PoolClient, m: Migration, direction: 'up' | 'down', log: (l: string) => void): Promise<RanMigration> {
  const started = Date.now();
  log(`${direction === 'up' ? 'applying' : 'reverting'} ${m.name}${m.transactional ? '' : ' (outside a transaction)'}`);
  const runner = queryRunnerOver(client);
  try {
    if (m.transactional) await client.query('BEGIN');
    await m.instance[direction](runner);
    const durationMs = Date.now() - started;
    if (direction === 'up') await client.query(INSERT_HISTORY_SQL, historyParams(m.name, m.checksum, m.transactional, durationMs));
    else await client.query(DELETE_HISTORY_SQL, [m.name]);
    if (m.transactional) await client.query('COMMIT');
    return { name: m.name, checksum: m.checksum, transactional: m.transactional, durationMs };
  } catch (err) {
    if (m.transactional) await client.query('ROLLBACK').catch(() => undefined);
    const undone = m.transactional ? 'rolled back, nothing recorded' : 'not recorded; it is safe to run again';
    throw new AppError(`Migration ${m.name} (${direction}) failed: ${(err as Error).message} (${undone}).`, EXIT.internal);
  }
}

/** Migrations only call queryRunner.query (raw SQL inside), so a thin adapter over pg is all they need. */
function queryRunnerOver(client: PoolClient): QueryRunner {
  const query = async (sql: string, params?: unknown[]) => (await client.query(sql, params)).rows;
  return { query } as unknown as QueryRunner;
}
