import type { ClientBase } from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnreachableError } from '../errors';

type Queryable = Pick<ClientBase, 'query'>;

/** A session that holds what a migration waits for. */
export interface Blocker {
  pid: number;
  applicationName: string;
  user: string;
  state: string;
  /** How long it has been in its current transaction (null: not in one). */
  xactSeconds: number | null;
  query: string;
}

const BLOCKER_COLUMNS = `a.pid, a.application_name AS "applicationName", a.usename AS "user", a.state,
  round(extract(epoch FROM now() - a.xact_start)::numeric, 1)::float AS "xactSeconds", left(a.query, 200) AS query`;

export async function blockersOf(monitor: Queryable, pid: number): Promise<Blocker[]> {
  const { rows } = await monitor.query(
    `SELECT ${BLOCKER_COLUMNS} FROM pg_stat_activity a WHERE a.pid = ANY(pg_blocking_pids($1)) ORDER BY a.xact_start NULLS LAST`, [pid]);
  return rows;
}

export function describeBlocker(b: Blocker): string {
  const inXact = b.xactSeconds === null ? 'not in a transaction' : `in its transaction for ${b.xactSeconds} s`;
  return `pid ${b.pid} (${b.applicationName || 'no application_name'}, user ${b.user}, ${inXact}, ${b.state}: ${b.query.replace(/\s+/g, ' ').trim()})`;
}

/**
 * Watches, from another connection, who blocks backend `pid` while a migration runs: once its
 * lock_timeout fires the wait is over and the blocker can no longer be asked for, so the last one
 * seen is what the error names.
 */
export function watchBlockers(monitor: Queryable, pid: number, everyMs: number): { stop(): Promise<Blocker[]> } {
  let seen: Blocker[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      await sleep(everyMs);
      if (!running) break;
      const now = await blockersOf(monitor, pid).catch(() => []);
      if (now.length > 0) seen = now;
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return seen;
    },
  };
}

/** An index being built in this database by another session. */
export interface IndexBuild {
  pid: number;
  applicationName: string;
  command: string;
  phase: string;
  table: string | null;
  index: string | null;
  runningSeconds: number;
}

export async function findIndexBuilds(client: Queryable): Promise<IndexBuild[]> {
  const { rows } = await client.query(
    `SELECT p.pid, a.application_name AS "applicationName", p.command, p.phase,
            t.relname AS "table", i.relname AS "index",
            round(extract(epoch FROM now() - a.query_start)::numeric, 1)::float AS "runningSeconds"
       FROM pg_stat_progress_create_index p
       JOIN pg_stat_activity a ON a.pid = p.pid
       LEFT JOIN pg_class t ON t.oid = p.relid
       LEFT JOIN pg_class i ON i.oid = p.index_relid
      WHERE p.datid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND p.pid <> pg_backend_pid()
      ORDER BY p.pid`);
  return rows;
}

export function describeBuild(b: IndexBuild): string {
  return `pid ${b.pid} (${b.applicationName || 'no application_name'}): ${b.command}${b.index ? ` ${b.index}` : ''}` +
    `${b.table ? ` on ${b.table}` : ''}, phase "${b.phase}", running for ${b.runningSeconds} s`;
}

/**
 * An index build still running on the server, typically the CREATE INDEX CONCURRENTLY of a run that
 * was killed (the server finishes a statement whose client is gone). Building or dropping that index
 * again would queue behind it, so wait for it to end, at most `timeoutMs`, then say what to do.
 */
export async function waitForIndexBuilds(client: Queryable, timeoutMs: number, log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let builds = await findIndexBuilds(client);
  if (builds.length === 0) return;
  log(`waiting for an index build still running on the server (left by an earlier run?): ${builds.map(describeBuild).join('; ')}`);
  let delay = 100;
  while (builds.length > 0) {
    if (Date.now() >= deadline) {
      const pids = builds.map((b) => b.pid);
      throw new UnreachableError(
        `An index build is still running on the server after waiting ${timeoutMs / 1000}s: ${builds.map(describeBuild).join('; ')}. ` +
        'Nothing was applied.',
        `Wait for it to finish and run the command again (or raise --lock-timeout), or cancel it with ` +
        `${pids.map((p) => `SELECT pg_cancel_backend(${p});`).join(' ')} A cancelled CREATE INDEX CONCURRENTLY leaves an INVALID ` +
        'index, which the migration drops and builds again on the next `sagactl migrate up`.');
    }
    await sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
    delay = Math.min(delay * 2, 1000);
    builds = await findIndexBuilds(client);
  }
  log('the index build ended; going on');
}
