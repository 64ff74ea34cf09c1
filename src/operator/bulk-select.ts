import { Db } from '../db/pool';
import { SagaFilter, whereOf } from '../saga/filter';
import { deadLocalOwners, stuckCondition, whyStuck } from '../saga/stuck';
import type { Strategy } from './recover';

/**
 * Which of the sagas FILTERS select a bulk action may act on, as SQL over saga_states `s`:
 * - compensate: compensation_failed ones, stuck ones in flight, and completed ones only with
 *   includeCompleted (a finished purchase is refunded only when asked, by query as by id);
 * - recover: stuck ones in flight (the filter always carries --stuck);
 * - retry: compensation_failed ones, completed ones whose notification failed, stuck ones in flight.
 * The rest is left alone, counted by status with the reason (BulkPlan.leftAlone).
 */
export type BulkAction = 'compensate' | 'recover' | 'retry';

export interface BulkRequest {
  action: BulkAction;
  filter: SagaFilter;
  /** compensate: refund completed purchases too. */
  includeCompleted?: boolean;
  /** recover: resume (default) or compensate what is in flight. */
  strategy?: Strategy;
  /** The stuck rule's --older-than for sagas in flight (src/saga/stuck.ts). */
  olderThanMs: number;
  /** At most this many sagas in all. */
  limit?: number;
}

export interface Selection {
  /** The filter AND what the action may act on. */
  sql: string;
  /** The filter AND what the action leaves alone (same parameters). */
  leftAlone: string;
  params: unknown[];
  /** Whether the action undoes this saga's committed steps (refunds, restocks), as SQL. */
  undoes: string;
  /** The parameter holding the dead local lease owners, for the stuck rule's words. */
  deadParam: string;
}

const IN_FLIGHT = `s.status IN ('pending', 'in_progress', 'compensating')`;

export async function selection(db: Pick<Db, 'query'>, req: BulkRequest): Promise<Selection> {
  // The dead owners read once, for FILTERS' --stuck and the action's own stuck rule alike.
  const dead = await deadLocalOwners(db);
  const where = whereOf(req.filter, dead);
  const params = [...where.params];
  const p = (v: unknown) => `$${params.push(v)}`;
  const deadParam = p(dead);
  const stuck = `(${IN_FLIGHT} AND ${stuckCondition('s', p(req.olderThanMs), deadParam)})`;
  // Functions: only the action's own conditions may add parameters.
  const eligible = {
    compensate: () => `(s.status = 'compensation_failed' OR ${stuck} OR (s.status = 'completed' AND ${p(Boolean(req.includeCompleted))}::boolean))`,
    recover: () => stuck,
    retry: () => `(s.status = 'compensation_failed' OR ${stuck} OR (s.status = 'completed'
             AND EXISTS (SELECT 1 FROM notifications n WHERE n.transaction_id = s.transaction_id AND n.status = 'failed')))`,
  }[req.action]();
  const undoes = {
    compensate: () => 'TRUE',
    // A keyword chosen by the strategy, no value: the same parameters serve every query of the selection.
    recover: () => `(s.status = 'compensating' OR ${req.strategy === 'compensate' ? 'TRUE' : 'FALSE'})`,
    retry: () => `s.status IN ('compensation_failed', 'compensating')`,
  }[req.action]();
  return { sql: `(${where.sql}) AND ${eligible}`, leftAlone: `(${where.sql}) AND NOT COALESCE(${eligible}, false)`, params, undoes, deadParam };
}

const committed = (step: string, kind: string) => `EXISTS (SELECT 1 FROM saga_step_results r WHERE r.transaction_id = s.transaction_id
   AND r.step = '${step}' AND r.kind = '${kind}' AND r.status = 'succeeded')`;
/** What undoing a saga gives back: its debit unless refunded already, its stock unless restocked already. */
export const REFUND = `CASE WHEN ${committed('validate_user', 'forward')} AND NOT ${committed('validate_user', 'compensation')} THEN s.price * s.quantity ELSE 0 END`;
export const RESTOCK = `CASE WHEN ${committed('reserve_inventory', 'forward')} AND NOT ${committed('reserve_inventory', 'compensation')} THEN s.quantity ELSE 0 END`;

/** One saga of a batch, as the per-saga actions need it. */
export interface BatchRow {
  transactionId: string;
  status: string;
  mode: string;
  userId: string;
  itemId: string;
  why: string;
}

/** The next batch after `after` (keyset on transaction_id): what is left of the selection, so running again resumes. */
export async function nextBatch(db: Pick<Db, 'query'>, req: BulkRequest, after: string, size: number): Promise<BatchRow[]> {
  const sel = await selection(db, req);
  const params = [...sel.params];
  const p = (v: unknown) => `$${params.push(v)}`;
  return db.query<BatchRow>(
    `SELECT s.transaction_id AS "transactionId", s.status, s.mode, s.user_id AS "userId", s.item_id AS "itemId",
            ${whyStuck('s', p(req.olderThanMs), sel.deadParam)} AS why
       FROM saga_states s WHERE ${sel.sql} AND s.transaction_id > ${p(after)}
      ORDER BY s.transaction_id LIMIT ${p(size)}`, params);
}
