import { Db } from '../db/pool';
import { SAGA_STEPS } from '../saga/steps';
import { StepName } from '../saga/types';
import { whyStuck } from './stuck';

/** One undo an operator is about to apply, with its exact amounts. */
export interface PlannedUndo {
  step: StepName;
  action: string;
  refund?: string;
  restock?: number;
}

export interface CompensationPlan {
  transactionId: string;
  found: boolean;
  status?: string;
  mode?: string;
  userId?: string;
  itemId?: string;
  /** Why it may not be compensated (then `undo` is empty and nothing is done). */
  refusal?: string;
  undo: PlannedUndo[];
}

interface SagaFacts {
  transactionId: string;
  status: string;
  mode: string;
  userId: string;
  itemId: string;
  quantity: number;
  total: string;
  leaseOwner: string | null;
  expired: boolean;
  committed: StepName[];
  compensated: StepName[];
}

/** What the plan is made of, read in one round trip (under the row lock when `lock` is given). */
export const SAGA_FACTS_SQL = `
SELECT s.transaction_id AS "transactionId", s.status, s.mode, s.user_id AS "userId", s.item_id AS "itemId", s.quantity,
       (s.price * s.quantity)::text AS total, s.lease_owner AS "leaseOwner",
       (s.lease_expires_at IS NULL OR s.lease_expires_at < now()) AS expired,
       ARRAY(SELECT step FROM saga_step_results r WHERE r.transaction_id = s.transaction_id
              AND r.kind = 'forward' AND r.status = 'succeeded' ORDER BY r.id) AS committed,
       ARRAY(SELECT step FROM saga_step_results r WHERE r.transaction_id = s.transaction_id
              AND r.kind = 'compensation' ORDER BY r.id) AS compensated
  FROM saga_states s WHERE s.transaction_id = $1`;

export async function readFacts(db: Pick<Db, 'query'>, id: string, lock = ''): Promise<SagaFacts | undefined> {
  return (await db.query<SagaFacts>(`${SAGA_FACTS_SQL} ${lock}`, [id]))[0];
}

/**
 * Decides whether a saga may be compensated by hand and what that undoes: every committed forward
 * step that has a compensation and was not undone yet, newest first. Pure: tests feed it facts.
 */
export function planFor(id: string, f: SagaFacts | undefined, includeCompleted: boolean): CompensationPlan {
  if (!f) return { transactionId: id, found: false, refusal: 'not found', undo: [] };
  const base = { transactionId: id, found: true, status: f.status, mode: f.mode, userId: f.userId, itemId: f.itemId };
  const refuse = (refusal: string): CompensationPlan => ({ ...base, refusal, undo: [] });
  if (f.status === 'compensated') return refuse('already compensated');
  if (f.status === 'failed') return refuse('failed at its first step: nothing was committed, nothing to undo');
  if (f.status === 'completed' && !includeCompleted) {
    return refuse('completed: a finished purchase is only undone with --include-completed');
  }
  if (['pending', 'in_progress', 'compensating'].includes(f.status) && !whyStuck(f.status, f.leaseOwner, f.expired)) {
    return refuse(`busy: in flight, leased to ${f.leaseOwner}`);
  }
  const undo = SAGA_STEPS
    .filter((s) => s.compensation && f.committed.includes(s.name) && !f.compensated.includes(s.name))
    .reverse()
    .map((s): PlannedUndo => {
      if (s.name === 'validate_user') return { step: s.name, action: `refund ${f.total} to ${f.userId}`, refund: f.total };
      if (s.name === 'reserve_inventory') return { step: s.name, action: `restock ${f.quantity} ${f.itemId}`, restock: f.quantity };
      return { step: s.name, action: `mark log-${id} reversed` };
    });
  return { ...base, undo };
}
