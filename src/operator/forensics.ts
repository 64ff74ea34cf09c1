import os from 'node:os';
import { Db } from '../db/pool';
import { isAlive } from '../db/file-lock';
import { localPid } from '../saga/stuck';
import { Actor, recordAudit } from './audit';
import { PG, pgCode } from '../db/pg-errors';
import { UnreachableError } from '../errors';

/**
 * Who is holding a saga: the database sessions that hold or wait on its rows (its saga_states row,
 * its user's row, its item's row), and the process behind its lease.
 *
 * A row lock taken by SELECT ... FOR UPDATE (or an UPDATE not committed yet) is not listed in
 * pg_locks: PostgreSQL writes it into the row itself, as the locking transaction's id in xmax.
 * So a row's holder is the session whose own transactionid lock is that xmax; a session waiting
 * for the row waits on that transactionid, or on the row's tuple lock (the waiters queued behind
 * the first). A row share-locked by several transactions at once carries a MultiXact id in xmax,
 * which this does not resolve: its holders are found only through a session waiting for the row
 * (pg_blocking_pids of the waiter), as `blocks`, and only the one it waits for now (a waiter waits
 * for the members one after another; after that one ends, the next shows).
 */
export interface SessionInfo {
  pid: number;
  /** holds: holds a lock on one of the saga's rows; waits: waits for one; blocks: blocks a waiter (found through it). */
  role: 'holds' | 'waits' | 'blocks';
  /** The saga's rows concerned, as "table key". */
  rows: string[];
  /** False when our role may not see the session's details (another role's session, and ours is neither a superuser nor in pg_read_all_stats): then only pid, user and application show. */
  visible: boolean;
  applicationName: string | null;
  clientAddr: string | null;
  user: string | null;
  state: string | null;
  /** Seconds in the current state (for "idle in transaction": how long it has been idle holding its locks). */
  stateSeconds: number | null;
  /** Seconds since its transaction began. */
  xactSeconds: number | null;
  xactStart: Date | null;
  /** The last statement, truncated to 200 characters. */
  query: string | null;
  /** For a waiter: the sessions it waits for (pg_blocking_pids). */
  blockedBy: number[];
}

export interface LeaseInfo {
  owner: string | null;
  expiresAt: Date | null;
  expired: boolean | null;
  host: string | null;
  pid: number | null;
  onThisHost: boolean | null;
  /** Only known for an owner on this host. */
  alive: boolean | null;
  /** In words: "no lease", "process 4711 on this host is running, lease valid", ... */
  verdict: string;
}

export interface SagaForensics {
  transactionId: string;
  status: string;
  mode: string;
  userId: string;
  itemId: string;
  lease: LeaseInfo;
  sessions: SessionInfo[];
  /** What this role could not see, in words (empty when nothing was hidden). */
  hidden: string[];
}

/**
 * One catalog query over a batch of sagas ($1 text[]): each saga's three rows with their xmax and
 * position, the sessions holding (by xmax) or waiting on them (transactionid or tuple lock), and
 * the sessions blocking those waiters; with pg_stat_activity. Our own backends ($2) are left out.
 */
const FORENSICS_SQL = `
WITH saga_rows AS (
  SELECT s.transaction_id, r.tbl, r.key, r.rel, r.xmax, r.ctid
    FROM saga_states s
    LEFT JOIN users u ON u.user_id = s.user_id
    LEFT JOIN items i ON i.item_id = s.item_id
   CROSS JOIN LATERAL (VALUES ('saga_states', s.transaction_id, 'saga_states'::regclass, s.xmax, s.ctid),
                              ('users', u.user_id, 'users'::regclass, u.xmax, u.ctid),
                              ('items', i.item_id, 'items'::regclass, i.xmax, i.ctid)) AS r(tbl, key, rel, xmax, ctid)
   WHERE s.transaction_id = ANY($1::text[]) AND r.key IS NOT NULL),
this_db AS (SELECT oid FROM pg_database WHERE datname = current_database()),
found AS (
  SELECT r.transaction_id, 'holds' AS role, l.pid, r.tbl || ' ' || r.key AS row_name
    FROM saga_rows r JOIN pg_locks l ON l.locktype = 'transactionid' AND l.granted AND l.transactionid = r.xmax
  UNION
  -- A tuple lock is held only while its session waits for the row (the first in line holds it
  -- granted, the others wait for it), so any tuple lock on the row is a waiter.
  SELECT r.transaction_id, 'waits', l.pid, r.tbl || ' ' || r.key
    FROM saga_rows r JOIN pg_locks l ON
         (NOT l.granted AND l.locktype = 'transactionid' AND l.transactionid = r.xmax)
      OR (l.locktype = 'tuple' AND l.database = (SELECT oid FROM this_db) AND l.relation = r.rel
          AND l.page = (r.ctid::text::point)[0]::int AND l.tuple = (r.ctid::text::point)[1]::int)),
involved AS (
  SELECT transaction_id, role, pid, row_name FROM found
  UNION
  SELECT f.transaction_id, 'blocks', b.pid, f.row_name
    FROM found f CROSS JOIN LATERAL unnest(pg_blocking_pids(f.pid)) AS b(pid)
   WHERE f.role = 'waits' AND NOT EXISTS (SELECT 1 FROM found h WHERE h.transaction_id = f.transaction_id AND h.pid = b.pid AND h.role = 'holds'))
SELECT v.transaction_id AS "transactionId", v.pid,
       (array_agg(v.role ORDER BY array_position(ARRAY['holds', 'blocks', 'waits'], v.role)))[1] AS role,
       array_agg(DISTINCT v.row_name ORDER BY v.row_name) AS rows,
       a.query IS DISTINCT FROM '<insufficient privilege>' AS visible,
       a.application_name AS "applicationName", host(a.client_addr) AS "clientAddr", a.usename AS "user", a.state,
       floor(extract(epoch FROM now() - a.state_change))::int AS "stateSeconds",
       floor(extract(epoch FROM now() - a.xact_start))::int AS "xactSeconds", a.xact_start AS "xactStart",
       NULLIF(left(a.query, 200), '<insufficient privilege>') AS query,
       CASE WHEN bool_and(v.role = 'waits') THEN pg_blocking_pids(v.pid) ELSE '{}'::int[] END AS "blockedBy"
  FROM involved v LEFT JOIN pg_stat_activity a ON a.pid = v.pid
 WHERE v.pid <> pg_backend_pid() AND NOT (v.pid = ANY($2::int[]))
 GROUP BY v.transaction_id, v.pid, a.pid, a.query, a.application_name, a.client_addr, a.usename, a.state, a.state_change, a.xact_start
 ORDER BY v.transaction_id, bool_and(v.role = 'waits'), a.xact_start NULLS LAST, v.pid`;

const SAGAS_SQL = `
SELECT transaction_id AS "transactionId", status, mode, user_id AS "userId", item_id AS "itemId",
       lease_owner AS "leaseOwner", lease_expires_at AS "leaseExpiresAt", lease_expires_at < now() AS "leaseExpired"
  FROM saga_states WHERE transaction_id = ANY($1::text[]) ORDER BY array_position($1::text[], transaction_id::text)`;

interface SagaRow {
  transactionId: string;
  status: string;
  mode: string;
  userId: string;
  itemId: string;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  leaseExpired: boolean | null;
}

/**
 * The forensics of these sagas, in the order given (ids that do not exist are left out: the
 * caller says which). `ownPids`: this process's own backends, never reported (nor terminated).
 */
export async function explainSagas(db: Pick<Db, 'query'>, ids: string[], ownPids: number[] = []): Promise<SagaForensics[]> {
  if (ids.length === 0) return [];
  const sagas = await db.query<SagaRow>(SAGAS_SQL, [ids]);
  const sessions = await db.query<SessionInfo & { transactionId: string }>(FORENSICS_SQL, [ids, ownPids]);
  return sagas.map((s) => {
    const mine = sessions.filter((x) => x.transactionId === s.transactionId).map(({ transactionId: _t, ...x }) => x);
    const hiddenCount = mine.filter((x) => !x.visible).length;
    return {
      transactionId: s.transactionId, status: s.status, mode: s.mode, userId: s.userId, itemId: s.itemId,
      lease: describeLease(s.leaseOwner, s.leaseExpiresAt, s.leaseExpired),
      sessions: mine,
      hidden: hiddenCount === 0 ? [] : [`${hiddenCount} session(s) belong to another role: their client, state, transaction times and query `
        + 'are hidden from this role (a superuser, or a member of pg_read_all_stats, sees them)'],
    };
  });
}

/** The process behind a lease "host:pid:run": on this host it can be asked whether it runs; on another, only its lease speaks. */
export function describeLease(owner: string | null, expiresAt: Date | null, expired: boolean | null, host = os.hostname()): LeaseInfo {
  if (!owner) return { owner: null, expiresAt, expired, host: null, pid: null, onThisHost: null, alive: null, verdict: 'no lease' };
  const parts = owner.split(':');
  const ownerHost = parts.length >= 3 ? parts.slice(0, -2).join(':') : null;
  const pidHere = localPid(owner, host);
  const pid = parts.length >= 3 && Number.isInteger(Number(parts[parts.length - 2])) ? Number(parts[parts.length - 2]) : null;
  const lease = expired ? 'lease expired' : 'lease valid';
  if (pidHere !== undefined) {
    const alive = isAlive(pidHere);
    return { owner, expiresAt, expired, host: ownerHost, pid, onThisHost: true, alive,
      verdict: `process ${pidHere} on this host is ${alive ? 'running' : 'gone'}, ${lease}` };
  }
  return { owner, expiresAt, expired, host: ownerHost, pid, onThisHost: false, alive: null,
    verdict: ownerHost ? `process ${pid ?? '?'} on host ${ownerHost} (cannot be checked from here), ${lease}` : `owner "${owner}" (not host:pid:run), ${lease}` };
}

/** The sessions holding a saga's rows (or blocking its waiters): what --terminate-blocker may end. */
export function blockersOf(f: SagaForensics): SessionInfo[] {
  return f.sessions.filter((s) => s.role !== 'waits');
}

export interface Termination {
  pid: number;
  /** The sagas whose rows it held. */
  sagas: string[];
  applicationName: string | null;
  query: string | null;
  /** How long its transaction had been open, and how long it had sat in its last state. */
  xactSeconds: number | null;
  stateSeconds: number | null;
  outcome: 'terminated' | 'gone';
}

/**
 * Ends the backend `blocker.pid` (pg_terminate_backend: its transaction rolls back, its locks go),
 * after checking it is still the same blocker: it still holds or blocks one of `sagas`' rows in the
 * same transaction (a pid reused, or a transaction that ended and began again, is left alone; for
 * a session hidden from our role only the pid and the rows can be compared).
 * Never this process's own backends. Audited once terminated (the audit cannot share a transaction
 * with the termination, which no rollback undoes). Permission refused: an UnreachableError
 * (PERMISSION, exit 4) naming the pid.
 */
export async function terminateBlocker(db: Pick<Db, 'query'>, actor: Actor, req: { sagas: string[]; blocker: SessionInfo; reason: string; ownPids?: number[] }): Promise<Termination> {
  const { blocker } = req;
  const base = { pid: blocker.pid, sagas: req.sagas, applicationName: blocker.applicationName, query: blocker.query,
    xactSeconds: blocker.xactSeconds, stateSeconds: blocker.stateSeconds };
  // A termination that could not be audited must not happen: ask first (no rollback undoes it).
  const [may] = await db.query<{ audit: boolean }>(`SELECT has_table_privilege('operator_audit', 'INSERT') AS audit`);
  if (!may?.audit) {
    throw new UnreachableError('Permission denied: this role may not INSERT into operator_audit, so a termination could not be audited. '
      + 'Nothing was terminated.', 'Run it as the operator role (docs/roles.md).', 'PERMISSION');
  }
  const now = await explainSagas(db, req.sagas, req.ownPids);
  const still = now.some((f) => blockersOf(f).some((s) => s.pid === blocker.pid && sameTime(s.xactStart, blocker.xactStart)));
  if (!still) return { ...base, outcome: 'gone' };
  const [row] = await db.query<{ done: boolean }>(
    'SELECT pg_terminate_backend($1::int) AS done WHERE $1::int <> pg_backend_pid() AND NOT ($1::int = ANY($2::int[]))',
    [blocker.pid, req.ownPids ?? []]).catch((err) => {
    if (pgCode(err) !== PG.insufficientPrivilege) throw err;
    throw new UnreachableError(`Permission denied to terminate backend pid ${blocker.pid} (${blocker.applicationName || 'no application_name'}): `
      + `${(err as Error).message}. Nothing was terminated.`,
    'A superuser, a member of the role that session runs as, or a member of pg_signal_backend may end it.', 'PERMISSION');
  });
  if (!row?.done) return { ...base, outcome: 'gone' };
  await recordAudit(db, actor, { action: 'terminate_backend', transactionId: req.sagas[0] ?? null, reason: req.reason, outcome: 'terminated',
    details: { pid: blocker.pid, sagas: req.sagas, application: blocker.applicationName, clientAddr: blocker.clientAddr, user: blocker.user,
      state: blocker.state, query: blocker.query, heldSeconds: blocker.xactSeconds, stateSeconds: blocker.stateSeconds } });
  return { ...base, outcome: 'terminated' };
}

const sameTime = (a: Date | null, b: Date | null) => (a === null || b === null ? a === b : new Date(a).getTime() === new Date(b).getTime());
