import { Db } from '../db/pool';
import { EngineDeps, markCompensationFailed, runCompensation, runForward } from '../saga/engine';
import { SagaRunner } from '../saga/service';
import { SAGA_STEPS, StepDefinition } from '../saga/steps';
import { ERROR_MESSAGES, SagaMode, StepName } from '../saga/types';
import { markStatsDirty } from '../stats/rollup';
import { Actor, recordAudit } from './audit';
import { readFacts } from './plan';
import { findStuck, StuckSaga } from './stuck';

export type Strategy = 'resume' | 'compensate';

export interface RecoverOptions {
  olderThanMs: number;
  strategy?: Strategy;
  limit: number;
}

export interface RecoverResult {
  transactionId: string;
  mode: string;
  before: string;
  action: string;
  after: string;
}

/** What recover would do with a stuck saga: compensating ones always go on compensating. */
export function actionFor(s: Pick<StuckSaga, 'status' | 'mode'>, strategy?: Strategy): string {
  if (s.status === 'compensating') return 'continue compensating';
  if (s.status === 'pending') return 'mark failed (no step committed)';
  if (strategy === 'compensate') return 'compensate';
  return s.mode === 'choreography' ? 'resume (redeliver outbox events)' : 'resume';
}

export async function listRecoverable(db: Db, opts: RecoverOptions): Promise<StuckSaga[]> {
  // compensation_failed sagas are an operator's call (saga compensate), never automatic.
  return (await findStuck(db, opts.olderThanMs)).filter((s) => s.status !== 'compensation_failed').slice(0, opts.limit);
}

/**
 * Claims the given stuck sagas (SKIP LOCKED, and only while they still have the owner we saw, so
 * several recoverers can run at once and never take the same saga) and drives each to a final status.
 */
export async function recover(
  runner: SagaRunner, candidates: StuckSaga[], strategy: Strategy | undefined, reason: string, actor: Actor,
): Promise<RecoverResult[]> {
  const deps = runner.deps;
  const claimed = await deps.db.query<{ transaction_id: string }>(
    `UPDATE saga_states s SET lease_owner = $3, lease_expires_at = now() + $4::int * interval '1 millisecond'
       FROM (SELECT st.transaction_id FROM saga_states st
               JOIN unnest($1::varchar[], $2::varchar[]) AS seen(id, owner) ON seen.id = st.transaction_id
              WHERE st.lease_owner IS NOT DISTINCT FROM seen.owner
                AND st.status IN ('pending', 'in_progress', 'compensating')
                FOR UPDATE OF st SKIP LOCKED) c
      WHERE s.transaction_id = c.transaction_id RETURNING s.transaction_id`,
    [candidates.map((c) => c.transactionId), candidates.map((c) => c.leaseOwner), deps.owner, deps.leaseMs]);
  const mine = new Set(claimed.map((c) => c.transaction_id));
  const results: RecoverResult[] = [];
  for (const saga of candidates.filter((c) => mine.has(c.transactionId))) {
    const action = actionFor(saga, strategy);
    await drive(runner, saga, action);
    const after = (await readFacts(deps.db, saga.transactionId))?.status ?? 'unknown';
    await markStatsDirty(deps.db, [saga.transactionId]); // its minute may be rolled up already
    await recordAudit(deps.db, actor, { action: 'recover', transactionId: saga.transactionId, reason, outcome: after,
      details: { before: saga.status, action, why: saga.why } });
    results.push({ transactionId: saga.transactionId, mode: saga.mode, before: saga.status, action, after });
  }
  return results;
}

async function drive(runner: SagaRunner, saga: StuckSaga, action: string): Promise<void> {
  const deps = runner.deps;
  const id = saga.transactionId;
  const mode = saga.mode as SagaMode;
  if (action.startsWith('mark failed')) {
    await deps.db.query(`UPDATE saga_states SET status = 'failed', lease_owner = NULL, lease_expires_at = NULL,
      updated_at = CURRENT_TIMESTAMP WHERE transaction_id = $1 AND status = 'pending'`, [id]);
    return;
  }
  if (action === 'compensate') {
    await deps.db.query(`UPDATE saga_states SET status = 'compensating', error_code = 'RECOVERED_BY_COMPENSATION',
      error_message = 'Compensated by saga recover', updated_at = CURRENT_TIMESTAMP
      WHERE transaction_id = $1 AND status = 'in_progress'`, [id]);
    await supersedeEvents(deps, id);
  }
  if (mode === 'choreography' && (await redeliver(runner, id))) return;
  if (action === 'compensate' || action === 'continue compensating') await compensateRemaining(deps, id, mode);
  else await resumeForward(deps, id, mode);
  await supersedeEvents(deps, id);
}

/** A saga driven directly has nothing left for the bus: its waiting events are marked delivered. */
async function supersedeEvents(deps: EngineDeps, id: string): Promise<void> {
  await deps.db.query('UPDATE saga_events SET delivered_at = now() WHERE transaction_id = $1 AND delivered_at IS NULL', [id]);
}

/** Choreography: hand the saga's undelivered outbox events to the bus again, oldest first. */
async function redeliver(runner: SagaRunner, id: string): Promise<boolean> {
  const events = await runner.deps.db.query<{ id: string; event_type: string }>(
    'SELECT id, event_type FROM saga_events WHERE transaction_id = $1 AND delivered_at IS NULL ORDER BY id', [id]);
  for (const e of events) await runner.bus.publish({ id: e.id, type: e.event_type, transactionId: id });
  return events.length > 0;
}

/** Orchestration: run the steps after the last committed one; a rejection compensates. */
async function resumeForward(deps: EngineDeps, id: string, mode: SagaMode): Promise<void> {
  const facts = (await readFacts(deps.db, id))!;
  for (const step of SAGA_STEPS.filter((s) => !facts.committed.includes(s.name))) {
    const r = await runForward(deps, step, id, mode, false, null, false);
    if (r.owned === 0 || r.duplicate) return;
    if (r.code && !step.neverCompensates) return compensateRemaining(deps, id, mode);
  }
}

/** Undoes every committed forward step not undone yet, newest first; the last ends the saga compensated. */
async function compensateRemaining(deps: EngineDeps, id: string, mode: SagaMode): Promise<void> {
  const facts = (await readFacts(deps.db, id))!;
  const todo: StepDefinition[] = SAGA_STEPS
    .filter((s) => s.compensation && facts.committed.includes(s.name) && !facts.compensated.includes(s.name as StepName))
    .reverse();
  if (todo.length === 0) {
    await deps.db.query(`UPDATE saga_states SET status = 'compensated', lease_owner = NULL, lease_expires_at = NULL,
      updated_at = CURRENT_TIMESTAMP WHERE transaction_id = $1 AND status = 'compensating'`, [id]);
    return;
  }
  for (const [i, step] of todo.entries()) {
    const r = await runCompensation(deps, step, id, mode, false, null, false, i === todo.length - 1);
    if (r.owned === 0) return;
    if (!r.done && !r.duplicate) {
      await markCompensationFailed(deps, id, `${ERROR_MESSAGES.COMPENSATION_FAILED}: ${step.name}`);
      return;
    }
  }
}
