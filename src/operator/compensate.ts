import { PG, pgCode } from '../db/pg-errors';
import { queryOver } from '../db/pool';
import { EngineDeps, markCompensationFailed, runCompensation } from '../saga/engine';
import { SAGA_STEPS } from '../saga/steps';
import { ERROR_MESSAGES, StepName } from '../saga/types';
import { markStatsDirty } from '../stats/rollup';
import { Actor, recordAudit } from './audit';
import { CompensationPlan, PlannedUndo, planFor, readFacts } from './plan';

export type CompensateOutcome = 'compensated' | 'compensation_failed' | 'refused' | 'not_found' | 'busy';

export interface CompensateResult {
  transactionId: string;
  before: string | null;
  outcome: CompensateOutcome;
  detail: string | null;
  undo: PlannedUndo[];
  /** The compensation rows exist once each with exactly the planned amounts (null when nothing ran). */
  verified: boolean | null;
}

export interface CompensateOptions {
  reason: string;
  actor: Actor;
  includeCompleted: boolean;
  /** Drills and tests: make the undo of this step fail. */
  failAt?: StepName;
}

const stepDef = (name: StepName) => SAGA_STEPS.find((s) => s.name === name)!;

/** The plans, read without locks and without writing: what --dry-run and the confirmation show. */
export async function planCompensations(deps: EngineDeps, ids: string[], includeCompleted: boolean): Promise<CompensationPlan[]> {
  return Promise.all(ids.map(async (id) => planFor(id, await readFacts(deps.db, id), includeCompleted)));
}

/**
 * Compensates one saga by hand. The claim takes the saga's row lock (NOWAIT: a second operator
 * is told it is busy, never queued behind the first), re-plans under it, and hands the saga to
 * this process in `compensating`; the undos then run through the engine's own exactly-once
 * statements; last, the result is verified and audited.
 */
export async function compensateSaga(deps: EngineDeps, id: string, opts: CompensateOptions): Promise<CompensateResult> {
  const claim = await claimForCompensation(deps, id, opts.includeCompleted);
  let result: CompensateResult;
  if ('busy' in claim) {
    result = { transactionId: id, before: null, outcome: 'busy', detail: claim.busy, undo: [], verified: null };
  } else if (!claim.found || claim.refusal) {
    result = { transactionId: id, before: claim.status ?? null, outcome: claim.found ? 'refused' : 'not_found',
      detail: claim.refusal ?? null, undo: [], verified: null };
  } else {
    result = await applyUndos(deps, claim, opts.failAt);
  }
  // The saga may have left a minute the stats rollup already folded: have stats fold it again.
  if (result.undo.length > 0) await markStatsDirty(deps.db, [id]);
  if (result.outcome !== 'not_found') {
    await recordAudit(deps.db, opts.actor, { action: 'compensate', transactionId: id, reason: opts.reason, outcome: result.outcome,
      details: { before: result.before, undo: result.undo, verified: result.verified, detail: result.detail } });
  }
  return result;
}

async function claimForCompensation(deps: EngineDeps, id: string, includeCompleted: boolean): Promise<CompensationPlan | { busy: string }> {
  try {
    return await deps.db.withTransaction(async (tx) => {
      const plan = planFor(id, await readFacts(queryOver(tx), id, 'FOR UPDATE OF s NOWAIT'), includeCompleted);
      if (!plan.found || plan.refusal) return plan;
      await tx.query(
        `UPDATE saga_states SET status = 'compensating', lease_owner = $2,
                lease_expires_at = now() + $3::int * interval '1 millisecond', updated_at = CURRENT_TIMESTAMP,
                error_code = COALESCE(error_code, 'OPERATOR_COMPENSATION'),
                error_message = COALESCE(error_message, 'Compensated by an operator')
          WHERE transaction_id = $1`, [id, deps.owner, deps.leaseMs]);
      // Choreography events still waiting are superseded: the operator drives the undo directly.
      await tx.query('UPDATE saga_events SET delivered_at = now() WHERE transaction_id = $1 AND delivered_at IS NULL', [id]);
      return plan;
    });
  } catch (err) {
    if (pgCode(err) === PG.lockNotAvailable) return { busy: 'busy: another operator or process holds this saga right now' };
    throw err;
  }
}

async function applyUndos(deps: EngineDeps, plan: CompensationPlan, failAt?: StepName): Promise<CompensateResult> {
  const id = plan.transactionId;
  const base = { transactionId: id, before: plan.status ?? null, undo: plan.undo };
  if (plan.undo.length === 0) {
    await deps.db.query(`UPDATE saga_states SET status = 'compensated', lease_owner = NULL, lease_expires_at = NULL,
      updated_at = CURRENT_TIMESTAMP WHERE transaction_id = $1 AND status = 'compensating'`, [id]);
  }
  for (const [i, undo] of plan.undo.entries()) {
    const last = i === plan.undo.length - 1;
    const r = await runCompensation(deps, stepDef(undo.step), id, plan.mode as 'orchestration', failAt === undo.step, null, false, last);
    if (r.owned === 0) return { ...base, outcome: 'busy', detail: 'another process took the saga over', verified: null };
    if (!r.done && !r.duplicate) {
      await markCompensationFailed(deps, id, `${ERROR_MESSAGES.COMPENSATION_FAILED}: ${undo.step}`);
      return { ...base, outcome: 'compensation_failed', detail: `the undo of ${undo.step} could not be applied`, verified: false };
    }
  }
  const verified = await verify(deps, plan);
  return { ...base, outcome: 'compensated', detail: verified ? null : 'verification found a difference', verified };
}

/** Each planned undo recorded exactly once, with exactly the planned amount, and the saga compensated. */
async function verify(deps: EngineDeps, plan: CompensationPlan): Promise<boolean> {
  const rows = await deps.db.query<{ step: string; data: Record<string, unknown>; status: string }>(
    `SELECT r.step, r.data, s.status FROM saga_states s
       LEFT JOIN saga_step_results r ON r.transaction_id = s.transaction_id AND r.kind = 'compensation'
      WHERE s.transaction_id = $1`, [plan.transactionId]);
  if (rows[0]?.status !== 'compensated') return false;
  return plan.undo.every((u) => {
    const matching = rows.filter((r) => r.step === u.step);
    if (matching.length !== 1) return false;
    if (u.refund !== undefined) return matching[0].data.refunded === u.refund;
    if (u.restock !== undefined) return matching[0].data.restocked === u.restock;
    return true;
  });
}
