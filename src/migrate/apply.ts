import type { ClientBase } from 'pg';
import type { QueryRunner } from 'typeorm';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError, EXIT } from '../errors';
import { databaseError, PG, pgCode } from '../db/pg-errors';
import type { Migration } from './loader';
import { Blocker, describeBlocker, watchBlockers } from './blockers';
import { DELETE_HISTORY_SQL, INSERT_HISTORY_SQL, historyParams } from './history';
import { missingPrivilege } from './privileges';
import { msSetting } from './sql';

export interface RanMigration {
  name: string;
  checksum: string;
  transactional: boolean;
  durationMs: number;
}

export interface ApplySettings {
  /** lock_timeout of the migration's own statements; 0 waits without limit (a scratch database). */
  ddlLockTimeoutMs: number;
  /** How many times a migration that hit its lock_timeout is tried again, after a growing pause. */
  ddlRetries: number;
  /** Another connection, to ask who blocks a migration while it waits. */
  monitor?: Pick<ClientBase, 'query'>;
  /** Write (or delete) the history row; false when building a scratch database. */
  record: boolean;
  log: (line: string) => void;
  /** The pause before try `attempt` + 1 (tests shorten it). */
  backoffMs?: (attempt: number) => number;
}

const defaultBackoff = (attempt: number) => Math.min(500 * 2 ** (attempt - 1), 8000) * (0.75 + Math.random() / 2);

/**
 * One migration, its history row in the same transaction, under a short lock_timeout so that its
 * DDL never queues behind a long transaction while the application's queries queue behind it. A
 * lock it cannot get rolls it back and tries again later, a bounded number of times; then it fails
 * naming the session that held the lock. A migration that cannot run in a transaction runs
 * statement by statement, is written to be re-run, and is recorded only once it succeeded.
 */
export async function applyMigration(client: ClientBase, m: Migration, direction: 'up' | 'down', s: ApplySettings): Promise<RanMigration> {
  s.log(`${direction === 'up' ? 'applying' : 'reverting'} ${m.name}${m.transactional ? '' : ' (outside a transaction)'}`);
  const pid: number = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  for (let attempt = 1; ; attempt++) {
    const watcher = s.monitor && s.ddlLockTimeoutMs > 0
      ? watchBlockers(s.monitor, pid, Math.min(250, Math.max(20, s.ddlLockTimeoutMs / 4))) : undefined;
    let blockers: Blocker[] = [];
    try {
      return await attemptOnce(client, m, direction, s);
    } catch (err) {
      blockers = (await watcher?.stop()) ?? [];
      const lockTimeout = pgCode(err) === PG.lockNotAvailable;
      if (!lockTimeout || attempt > s.ddlRetries) throw migrationFailed(m, direction, err, { attempt, blockers, s });
      const pause = (s.backoffMs ?? defaultBackoff)(attempt);
      s.log(`${m.name}: no lock within ${s.ddlLockTimeoutMs / 1000}s (held by ${blockers.map(describeBlocker).join('; ') || 'a session that let go'}); ` +
        `rolled back, trying again in ${(pause / 1000).toFixed(1)}s (${attempt} of ${s.ddlRetries + 1} tries)`);
      await sleep(pause);
    } finally {
      await watcher?.stop();
    }
  }
}

async function attemptOnce(client: ClientBase, m: Migration, direction: 'up' | 'down', s: ApplySettings): Promise<RanMigration> {
  const started = Date.now();
  const runner = { query: async (sql: string, params?: unknown[]) => (await client.query(sql, params)).rows } as unknown as QueryRunner;
  const timeout = msSetting(s.ddlLockTimeoutMs);
  let previous: string | undefined;
  try {
    if (m.transactional) {
      await client.query('BEGIN');
      await client.query(`SELECT set_config('lock_timeout', $1, true)`, [timeout]);
    } else {
      previous = (await client.query(`SELECT current_setting('lock_timeout') AS v`)).rows[0].v;
      await client.query(`SELECT set_config('lock_timeout', $1, false)`, [timeout]);
    }
    await m.instance[direction](runner);
    const durationMs = Date.now() - started;
    if (s.record && direction === 'up') await client.query(INSERT_HISTORY_SQL, historyParams(m, durationMs));
    if (s.record && direction === 'down') await client.query(DELETE_HISTORY_SQL, [m.name]);
    if (m.transactional) await client.query('COMMIT');
    return { name: m.name, checksum: m.checksum, transactional: m.transactional, durationMs };
  } catch (err) {
    if (m.transactional) await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    // The client goes back to the pool: it must not keep this migration's lock_timeout.
    if (previous !== undefined) await client.query(`SELECT set_config('lock_timeout', $1, false)`, [previous]).catch(() => undefined);
  }
}

/** The failure as the exit code its cause documents: a lock or a privilege is 4, an existing object 3. */
function migrationFailed(m: Migration, direction: string, err: unknown, ctx: { attempt: number; blockers: Blocker[]; s: ApplySettings }): AppError {
  const undone = m.transactional ? 'rolled back, nothing recorded' : 'not recorded; it is safe to run again';
  const what = `Migration ${m.name} (${direction})`;
  if (pgCode(err) === PG.lockNotAvailable) {
    const by = ctx.blockers.map(describeBlocker).join('; ') || 'a session that let go before it could be named';
    return new AppError(`${what} could not get its lock within ${ctx.s.ddlLockTimeoutMs / 1000}s in ${ctx.attempt} tries: ` +
      `blocked by ${by} (${undone}).`, EXIT.unreachable,
      `That transaction must end first: wait for it, end it (${ctx.blockers.map((b) => `SELECT pg_terminate_backend(${b.pid});`).join(' ') || 'pg_terminate_backend'}), ` +
      'or run again with a longer --ddl-lock-timeout or more --ddl-retries.');
  }
  const mapped = databaseError(err);
  const message = err instanceof Error ? err.message : String(err);
  if (!mapped) return new AppError(`${what} failed: ${message} (${undone}).`, EXIT.internal);
  const privilege = pgCode(err) === PG.insufficientPrivilege ? missingPrivilege(message) : undefined;
  return new AppError(`${what} failed: ${mapped.message}${privilege ? ` The role lacks ${privilege}.` : ''} (${undone}).`,
    mapped.exitCode, mapped.hint);
}
