import { Db } from '../db/pool';
import { SAGA_STEPS, UNDOABLE_STEPS } from './steps';
import { SagaMode, SagaStatus, StepName } from './types';

/** A saga as its records tell it: what every driver, recoverer and operator decides from. */
export interface SagaFacts {
  transactionId: string;
  status: SagaStatus;
  errorCode: string | null;
  mode: SagaMode;
  userId: string;
  itemId: string;
  quantity: number;
  total: string;
  createdAt: Date;
  leaseOwner: string | null;
  /** No lease, or a lease that ran out. */
  leaseExpired: boolean;
  /** Forward steps that succeeded, in order. */
  committed: StepName[];
  /** Steps whose compensation succeeded. */
  compensated: StepName[];
  /** Outbox events not delivered yet, oldest first (choreography). */
  pendingEvents: { id: string; type: string }[];
}

/** One round trip; `lock` (FOR UPDATE OF s NOWAIT, ...) when the caller is about to act on it. */
export const FACTS_SQL = `
SELECT s.transaction_id AS "transactionId", s.status, s.error_code AS "errorCode", s.mode, s.user_id AS "userId", s.item_id AS "itemId", s.quantity,
       (s.price * s.quantity)::text AS total, s.created_at AS "createdAt", s.lease_owner AS "leaseOwner",
       (s.lease_expires_at IS NULL OR s.lease_expires_at < now()) AS "leaseExpired",
       ARRAY(SELECT step FROM saga_step_results r WHERE r.transaction_id = s.transaction_id
              AND r.kind = 'forward' AND r.status = 'succeeded' ORDER BY r.id) AS committed,
       ARRAY(SELECT step FROM saga_step_results r WHERE r.transaction_id = s.transaction_id
              AND r.kind = 'compensation' AND r.status = 'succeeded' ORDER BY r.id) AS compensated,
       COALESCE((SELECT json_agg(json_build_object('id', e.id::text, 'type', e.event_type) ORDER BY e.id) FROM saga_events e
                  WHERE e.transaction_id = s.transaction_id AND e.delivered_at IS NULL), '[]') AS "pendingEvents"
  FROM saga_states s WHERE s.transaction_id = $1`;

export async function readFacts(db: Pick<Db, 'query'>, id: string, lock = ''): Promise<SagaFacts | undefined> {
  return (await db.query<SagaFacts>(`${FACTS_SQL} ${lock}`, [id]))[0];
}

/** The first forward step not committed yet (a saga in progress has every earlier one committed). */
export function nextForward(f: Pick<SagaFacts, 'committed'>): StepName | undefined {
  return SAGA_STEPS.find((s) => !f.committed.includes(s.name))?.name;
}

/** The newest committed undoable step not undone yet: compensation runs in reverse. */
export function nextUndo(f: Pick<SagaFacts, 'committed' | 'compensated'>): StepName | undefined {
  return [...UNDOABLE_STEPS].reverse().find((s) => f.committed.includes(s) && !f.compensated.includes(s));
}

/** Undoes still to do, newest first. */
export function undosLeft(f: Pick<SagaFacts, 'committed' | 'compensated'>): StepName[] {
  return [...UNDOABLE_STEPS].reverse().filter((s) => f.committed.includes(s) && !f.compensated.includes(s));
}
