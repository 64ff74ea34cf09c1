import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { localPid } from '../saga/stuck';
import { PG, pgCode } from './pg-errors';

/** A saga this process held when it stopped, now free for `saga recover` to take at once. */
export interface LeftSaga {
  transactionId: string;
  status: string;
}

export interface CancelReport {
  /** Statements cancelled (pg_cancel_backend) and transactions ended (pg_terminate_backend) on the server. */
  cancelled: number;
  /** Backends of ours still running a statement when the wait ended (none, unless the server did not answer). */
  stillRunning: number[];
  left: LeftSaga[];
  /** Why the server could not be asked, when it could not. */
  failed?: string;
}

type Query = (sql: string, params?: unknown[]) => Promise<{ rows: any[] }>;

const IN_FLIGHT = `('pending', 'in_progress', 'compensating')`;

/**
 * Expires at once the leases of the sagas this process holds (lease owners are host:pid:run, see
 * src/saga/engine.ts), so `saga recover` may take them now instead of after the lease; returns
 * them. Tolerates a schema not migrated yet, a role that may not write it, a read-only server.
 */
export async function releaseLeases(query: Query, pid = process.pid, host = os.hostname()): Promise<LeftSaga[]> {
  try {
    const { rows } = await query(
      `SELECT DISTINCT lease_owner AS owner FROM saga_states WHERE status IN ${IN_FLIGHT} AND starts_with(lease_owner, $1)`, [`${host}:`]);
    const owners = rows.map((r) => r.owner as string).filter((o) => localPid(o, host) === pid);
    if (owners.length === 0) return [];
    const released = await query(
      `UPDATE saga_states SET lease_expires_at = now() WHERE lease_owner = ANY($1::text[]) AND status IN ${IN_FLIGHT}
       RETURNING transaction_id AS "transactionId", status`, [owners]);
    return released.rows as LeftSaga[];
  } catch (err) {
    const code = pgCode(err);
    if (code === PG.undefinedTable || code === PG.insufficientPrivilege || code === PG.readOnlyTransaction || code === PG.lockNotAvailable) return [];
    throw err;
  }
}

/**
 * Stops this process's work on the server, over a connection of its own (never the command's pool,
 * which may be full, ended, or waiting): each of `pids` running a statement is cancelled
 * (pg_cancel_backend), each sitting in an open transaction is ended (pg_terminate_backend, so the
 * transaction rolls back whole), until none runs; then the leases this process holds are
 * released. Bounded: the connect timeout, then `waitMs`.
 */
export async function cancelOwnWork(opts: { url: string; pids: number[]; connectTimeoutMs: number; waitMs?: number }): Promise<CancelReport> {
  const client = new Client({ connectionString: opts.url, connectionTimeoutMillis: opts.connectTimeoutMs,
    application_name: `sagactl-cancel:${process.pid}` });
  client.on('error', () => undefined);
  const report: CancelReport = { cancelled: 0, stillRunning: [], left: [] };
  try {
    await client.connect();
    // Short waits only: a lock held by one of our own aborted transactions ends with it.
    await client.query(`SET lock_timeout = '2s'`);
    const deadline = Date.now() + (opts.waitMs ?? 3000);
    const stopped = new Set<number>();
    for (;;) {
      const { rows } = await client.query(
        `SELECT pid, CASE WHEN state = 'active' THEN pg_cancel_backend(pid) ELSE pg_terminate_backend(pid) END AS done, state
           FROM pg_stat_activity
          WHERE pid = ANY($1::int[]) AND pid <> pg_backend_pid()
            AND (state = 'active' OR state LIKE 'idle in transaction%')`, [opts.pids]);
      for (const r of rows) if (r.done) stopped.add(r.pid);
      report.cancelled = stopped.size;
      report.stillRunning = rows.map((r) => r.pid);
      if (rows.length === 0 || Date.now() >= deadline) break;
      await sleep(50);
    }
    report.left = await releaseLeases((sql, params) => client.query(sql, params));
  } catch (err) {
    report.failed = err instanceof Error ? err.message : String(err);
  } finally {
    await client.end().catch(() => undefined);
  }
  return report;
}
