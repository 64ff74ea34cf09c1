import { Db } from '../db/pool';
import { deadLocalOwners, lastMoved, stuckCondition, whyStuck } from '../saga/stuck';

/** A stuck saga as `saga stuck` lists it (src/saga/stuck.ts defines "stuck"). */
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
  /** When it last moved (its row or a step record), and how long ago in seconds. */
  lastMovedAt: Date;
  idleSeconds: number;
  lastStep: string | null;
  attempts: number;
  errorCode: string | null;
  errorMessage: string | null;
  why: string;
}

const STUCK_SQL = `
SELECT s.transaction_id AS "transactionId", s.status, s.mode, s.user_id AS "userId", s.item_id AS "itemId", s.quantity,
       (s.price * s.quantity)::text AS total, s.lease_owner AS "leaseOwner", s.lease_expires_at AS "leaseExpiresAt",
       s.updated_at AS "updatedAt", m.at AS "lastMovedAt",
       floor(extract(epoch FROM timezone('UTC', now()) - m.at))::int AS "idleSeconds",
       s.error_code AS "errorCode", s.error_message AS "errorMessage",
       (SELECT r.step FROM saga_step_results r
         WHERE r.transaction_id = s.transaction_id AND r.status = 'succeeded' ORDER BY r.id DESC LIMIT 1) AS "lastStep",
       (SELECT count(*)::int FROM operator_audit a WHERE a.transaction_id = s.transaction_id AND a.outcome <> 'claimed') AS attempts,
       ${whyStuck('s', '$1', '$2')} AS why
  FROM saga_states s CROSS JOIN LATERAL (SELECT ${lastMoved('s')} AS at) m
 WHERE s.status IN ('pending', 'in_progress', 'compensating', 'compensation_failed') AND ${stuckCondition('s', '$1', '$2')}
 ORDER BY m.at, s.transaction_id
 LIMIT $3`;

/** The stuck sagas, stalest first, each with why it counts as stuck. */
export async function findStuck(db: Db, opts: { olderThanMs: number; limit?: number }): Promise<StuckSaga[]> {
  return db.query<StuckSaga>(STUCK_SQL, [opts.olderThanMs, await deadLocalOwners(db), opts.limit ?? 1_000_000]);
}
