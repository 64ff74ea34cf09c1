import type { Client, PoolClient } from 'pg';
import { Db } from '../db/pool';
import { CheckFailedError, NotFoundError, StateError, UsageError } from '../errors';
import { Migration } from './loader';
import { withAdvisoryLock, LOCK_KEYS } from './lock';
import { AppliedMigration, ensureHistory, readHistory } from './history';
import { applyMigration, ApplySettings, RanMigration } from './apply';
import { waitForIndexBuilds } from './blockers';
import { assertCanMigrate } from './privileges';
import { findAdoptable } from './typeorm-history';

export type { RanMigration } from './apply';

export interface MigrateDeps {
  db: Db;
  migrations: Migration[];
  /** How long to wait for another run: its migration lock, or an index build it left running. */
  lockTimeoutMs: number;
  log: (line: string) => void;
  /** lock_timeout of each migration's DDL (default 5 s). */
  ddlLockTimeoutMs?: number;
  /** Further tries of a migration that hit its DDL lock timeout (default 3). */
  ddlRetries?: number;
  /** The pause before each further try (default: growing from 0.5 s, with jitter). */
  backoffMs?: (attempt: number) => number;
}

export const DEFAULT_DDL_LOCK_TIMEOUT_MS = 5000;
export const DEFAULT_DDL_RETRIES = 3;

export interface MigrationStatus {
  applied: {
    name: string; checksum: string; compiledChecksum: string | null; appliedAt: Date; durationMs: number;
    appliedBy: string; host: string; baselinedFrom: string | null;
  }[];
  pending: { name: string }[];
  /** Applied migrations whose source no longer has the checksum recorded when they ran. */
  changed: { name: string; recorded: string; current: string }[];
  /** Applied migrations with no file any more. */
  missing: { name: string }[];
  /** Pending migrations older than the newest applied one: `up` refuses them unless told. */
  outOfOrder: { name: string }[];
}

export function compareHistory(history: AppliedMigration[], migrations: Migration[]): MigrationStatus {
  const byName = new Map(migrations.map((m) => [m.name, m]));
  const applied = new Set(history.map((h) => h.name));
  const newest = history.reduce((max, h) => (h.name > max ? h.name : max), '');
  const pending = migrations.filter((m) => !applied.has(m.name)).map((m) => ({ name: m.name }));
  return {
    applied: history.map(({ name, checksum, compiledChecksum, appliedAt, durationMs, appliedBy, host, baselinedFrom }) =>
      ({ name, checksum, compiledChecksum: compiledChecksum ?? null, appliedAt, durationMs, appliedBy, host, baselinedFrom: baselinedFrom ?? null })),
    pending,
    changed: history
      .filter((h) => byName.has(h.name) && byName.get(h.name)!.checksum !== h.checksum)
      .map((h) => ({ name: h.name, recorded: h.checksum, current: byName.get(h.name)!.checksum })),
    missing: history.filter((h) => !byName.has(h.name)).map((h) => ({ name: h.name })),
    outOfOrder: pending.filter((p) => p.name < newest),
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

/** Refuses to apply a migration older than one already applied, unless the caller allows it. */
export function assertInOrder(status: MigrationStatus, chosen: Migration[], allowOutOfOrder = false): void {
  const late = new Set(status.outOfOrder.map((o) => o.name));
  const names = chosen.filter((m) => late.has(m.name)).map((m) => m.name);
  if (names.length === 0 || allowOutOfOrder) return;
  const newest = status.applied.reduce((max, a) => (a.name > max ? a.name : max), '');
  throw new CheckFailedError(`Out of order: ${names.join(', ')} ${names.length > 1 ? 'are' : 'is'} older than ${newest}, ` +
    'which is already applied. Nothing was applied.',
    'It probably arrived from another branch after newer migrations ran. If it does not depend on them and they not on it, ' +
    'apply it with `sagactl migrate up --allow-out-of-order`; otherwise give it a newer timestamp.');
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

export interface UpOptions {
  to?: string;
  /** Apply a pending migration older than the newest applied one (refused by default). */
  allowOutOfOrder?: boolean;
  /** Lint the migrations first, and apply nothing if one fails (`migrate up --lint`). */
  lint?: boolean;
}

export async function runUp(deps: MigrateDeps, opts: UpOptions = {}): Promise<RanMigration[]> {
  return withMigrationClient(deps, async (client, monitor) => {
    // Re-read after the lock is won: a concurrent run may have applied everything meanwhile.
    const history = await readHistory(client);
    const status = compareHistory(history, deps.migrations);
    assertUnchanged(status);
    await assertNothingToAdopt(client, history, deps.migrations);
    const pending = selectPending(status, deps.migrations, opts.to);
    assertInOrder(status, pending, opts.allowOutOfOrder);
    if (pending.length === 0) return [];
    if (opts.lint) {
      const { assertLintPasses } = require('./lint') as typeof import('./lint');
      await assertLintPasses(pending);
    }
    await assertCanMigrate(client, 'up');
    await waitForIndexBuilds(client, deps.lockTimeoutMs, deps.log);
    await ensureHistory(client);
    const ran: RanMigration[] = [];
    for (const m of pending) ran.push(await applyMigration(client, m, 'up', settings(deps, monitor)));
    return ran;
  });
}

/** A database that TypeORM's runner migrated must be adopted first: running them again would fail on what exists. */
async function assertNothingToAdopt(client: PoolClient, history: AppliedMigration[], migrations: Migration[]): Promise<void> {
  const adopt = await findAdoptable(client, history, migrations);
  if (adopt?.from !== 'typeorm') return;
  throw new StateError(`This database was migrated by TypeORM's runner: ${adopt.migrations.join(', ')} ` +
    `${adopt.migrations.length > 1 ? 'are' : 'is'} recorded in its "migrations" table, not in sagactl's history. ` +
    'Running them again would fail on objects that exist. Nothing was applied.',
    `Adopt them first: ${adopt.command} (it checks that their objects exist), then \`sagactl migrate up\`.`);
}

/**
 * `expected` is what the caller chose (and confirmed) before waiting for the lock: if another run
 * changed the history meanwhile, the same --count or --to now means other migrations, and
 * reverting them would undo something nobody confirmed, so nothing is reverted.
 */
export async function runDown(deps: MigrateDeps, opts: { count?: number; to?: string; expected?: string[] }): Promise<RanMigration[]> {
  return withMigrationClient(deps, async (client, monitor) => {
    const status = compareHistory(await readHistory(client), deps.migrations);
    const chosen = selectToRevert(status, deps.migrations, opts);
    const names = chosen.map((m) => m.name);
    if (opts.expected && names.join() !== opts.expected.join()) {
      throw new StateError(`The migration history changed while this command waited: it would now revert ${names.join(', ') || 'nothing'} ` +
        `instead of ${opts.expected.join(', ')}. Nothing was reverted.`, 'Check `sagactl migrate status`, then run the command again.');
    }
    if (chosen.length === 0) return [];
    await assertCanMigrate(client, 'down');
    await waitForIndexBuilds(client, deps.lockTimeoutMs, deps.log);
    const ran: RanMigration[] = [];
    for (const m of chosen) ran.push(await applyMigration(client, m, 'down', settings(deps, monitor)));
    return ran;
  });
}

function settings(deps: MigrateDeps, monitor: Client): ApplySettings {
  return {
    ddlLockTimeoutMs: deps.ddlLockTimeoutMs ?? DEFAULT_DDL_LOCK_TIMEOUT_MS,
    ddlRetries: deps.ddlRetries ?? DEFAULT_DDL_RETRIES,
    backoffMs: deps.backoffMs,
    monitor,
    record: true,
    log: deps.log,
  };
}

/**
 * Runs `fn` holding the migration lock, with a pool client for the migrations and the lock's own
 * connection (never in a transaction) to watch who blocks them.
 */
export async function withMigrationClient<T>(deps: MigrateDeps, fn: (client: PoolClient, monitor: Client) => Promise<T>): Promise<T> {
  const onWait = (holder: string) => deps.log(`waiting for the migration lock, held by ${holder}`);
  return withAdvisoryLock(deps.db.url ?? deps.db.pool.options, LOCK_KEYS.migrate, deps.lockTimeoutMs, onWait, async (monitor) => {
    const client = await deps.db.pool.connect();
    try {
      return await fn(client, monitor);
    } finally {
      client.release();
    }
  });
}
