import os from 'node:os';
import { Db } from '../db/pool';
import { isAlive } from '../db/file-lock';

/**
 * A saga is stuck when it is not in a final status and nobody is driving it: its lease expired,
 * or its owner was a process on this host that no longer exists (then at once, without waiting
 * for the lease). compensation_failed sagas are listed too: they wait for an operator.
 */
export interface StuckSaga {
  transactionId: string;
  status: string;
  mode: string;
  userId: string;
  itemId: string;
  quantity: number;
  total: string;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  updatedAt: Date;
  lastStep: string | null;
  attempts: number;
  errorCode: string | null;
  errorMessage: string | null;
  why: string;
}

/** "host:pid:run" → the pid when the owner ran on this host, else undefined. */
export function localPid(owner: string | null, host = os.hostname()): number | undefined {
  if (!owner) return undefined;
  const parts = owner.split(':');
  if (parts.length < 3) return undefined;
  const pid = Number(parts[parts.length - 2]);
  return parts.slice(0, -2).join(':') === host && Number.isInteger(pid) ? pid : undefined;
}

export function ownerIsDeadHere(owner: string | null): boolean {
  const pid = localPid(owner);
  return pid !== undefined && !isAlive(pid);
}

const STUCK_SQL = `
SELECT s.transaction_id AS "transactionId", s.status, s.mode, s.user_id AS "userId", s.item_id AS "itemId", s.quantity,
       (s.price * s.quantity)::text AS total, s.lease_owner AS "leaseOwner", s.lease_expires_at AS "leaseExpiresAt",
       s.updated_at AS "updatedAt", s.error_code AS "errorCode", s.error_message AS "errorMessage",
       (SELECT r.step FROM saga_step_results r
         WHERE r.transaction_id = s.transaction_id AND r.status = 'succeeded' ORDER BY r.id DESC LIMIT 1) AS "lastStep",
       (SELECT count(*)::int FROM operator_audit a WHERE a.transaction_id = s.transaction_id) AS attempts,
       s.lease_expires_at IS NULL OR s.lease_expires_at < now() - $1::int * interval '1 millisecond' AS expired
  FROM saga_states s
 WHERE (s.status IN ('pending', 'in_progress', 'compensating')
        AND (s.lease_expires_at IS NULL OR s.lease_expires_at < now() - $1::int * interval '1 millisecond'
             OR (s.lease_owner LIKE $2 AND s.updated_at < now() - $1::int * interval '1 millisecond')))
    OR (s.status = 'compensation_failed' AND s.updated_at < now() - $1::int * interval '1 millisecond')
 ORDER BY COALESCE(s.lease_expires_at, s.updated_at), s.transaction_id`;

/** The stuck sagas, stalest first, each with why it counts as stuck. */
export async function findStuck(db: Db, olderThanMs: number): Promise<StuckSaga[]> {
  const rows = await db.query(STUCK_SQL, [olderThanMs, `${likeEscape(os.hostname())}:%`]);
  return rows.flatMap(({ expired, ...s }) => {
    const why = whyStuck(s.status, s.leaseOwner, expired);
    return why ? [{ ...s, why } as StuckSaga] : [];
  });
}

export function whyStuck(status: string, owner: string | null, expired: boolean): string | undefined {
  if (status === 'compensation_failed') return 'a compensation failed; waiting for an operator';
  if (owner === null) return 'no owner';
  if (ownerIsDeadHere(owner)) return `owner ${owner} is no longer running`;
  if (expired) return `lease of ${owner} expired`;
  return undefined; // a live local owner whose lease still runs: in flight, not stuck
}

function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
