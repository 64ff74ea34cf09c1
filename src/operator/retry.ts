import { queryOver } from '../db/pool';
import { UTC_NOW } from '../db/sql';
import { readFacts } from '../saga/facts';
import { SagaRunner } from '../saga/service';
import { deadLocalOwners, stuckCondition, whyStuck } from '../saga/stuck';
import { Actor, recordAudit } from './audit';
import { compensateSaga } from './compensate';
import { recover } from './recover';
import type { StuckSaga } from './stuck';

/**
 * `saga retry`: redrives a saga once the cause of its failure is fixed, from its records, each
 * change audited as `retry`:
 * - compensation_failed: its undos left are re-attempted (the compensation path, verified);
 * - completed with a failed notification: the notification is re-sent (its row: sent, attempts + 1);
 * - stuck in flight: resumed from its last committed step (the recover path, strategy resume).
 * Anything else has nothing to redrive: refused with the reason, nothing changed.
 */
export type RetryAction = 'undo' | 'resend' | 'resume' | 'none';

export interface RetryResult {
  transactionId: string;
  before: string | null;
  action: RetryAction;
  /** resent, or the saga's status after the redrive; refused, busy or not_found when nothing was done. */
  outcome: string;
  detail: string | null;
}

export interface RetryOptions {
  reason: string;
  actor: Actor;
  olderThanMs: number;
}

export async function retrySaga(runner: SagaRunner, id: string, opts: RetryOptions): Promise<RetryResult> {
  const db = runner.deps.db;
  const f = await readFacts(db, id);
  const none = (outcome: string, detail: string): RetryResult => ({ transactionId: id, before: f?.status ?? null, action: 'none', outcome, detail });
  if (!f) return none('not_found', 'no such saga');
  if (f.status === 'compensation_failed') {
    const r = await compensateSaga(runner.engine, id, { ...opts, includeCompleted: false, auditAction: 'retry' });
    return { transactionId: id, before: f.status, action: 'undo', outcome: r.outcome, detail: r.detail };
  }
  if (f.status === 'completed') return resend(runner, id, opts);
  if (f.status === 'compensated' || f.status === 'failed') return none('refused', `${f.status}: final, nothing to redrive`);
  const stuck = await stuckNow(runner, id, opts.olderThanMs);
  if (!stuck) return none('refused', 'in flight and moving (not stuck): its owner is still driving it');
  const report = await recover(runner, { ...opts, candidates: [stuck], strategy: 'resume', auditAction: 'retry' });
  const r = report.results[0];
  if (!r) return none('busy', 'claimed by another recoverer, or it moved again');
  return { transactionId: id, before: f.status, action: 'resume', outcome: r.action === 'refused' ? 'refused' : r.after, detail: r.detail ?? null };
}

/** A completed saga's failed notification, sent again; audited with the row's new attempt count. */
async function resend(runner: SagaRunner, id: string, opts: RetryOptions): Promise<RetryResult> {
  return runner.deps.db.withTransaction(async (tx) => {
    const { rows } = await tx.query<{ notification_id: string; attempts: number }>(
      `UPDATE notifications SET status = 'sent', attempts = attempts + 1, sent_at = ${UTC_NOW}
        WHERE transaction_id = $1 AND status = 'failed' RETURNING notification_id, attempts`, [id]);
    if (rows.length === 0) {
      return { transactionId: id, before: 'completed', action: 'none' as const, outcome: 'refused', detail: 'completed, and its notification was sent: nothing to redrive' };
    }
    await recordAudit(queryOver(tx), opts.actor, { action: 'retry', transactionId: id, reason: opts.reason, outcome: 'resent',
      details: { notificationId: rows[0].notification_id, attempts: rows[0].attempts } });
    return { transactionId: id, before: 'completed', action: 'resend' as const, outcome: 'resent', detail: `notification sent (attempt ${rows[0].attempts})` };
  });
}

/** The saga as a stuck candidate for recover, or undefined when it is not stuck (src/saga/stuck.ts). */
async function stuckNow(runner: SagaRunner, id: string, olderThanMs: number): Promise<StuckSaga | undefined> {
  const db = runner.deps.db;
  const rows = await db.query<StuckSaga>(
    `SELECT s.transaction_id AS "transactionId", s.status, s.mode, ${whyStuck('s', '$2', '$3')} AS why
       FROM saga_states s WHERE s.transaction_id = $1 AND ${stuckCondition('s', '$2', '$3')}`, [id, olderThanMs, await deadLocalOwners(db)]);
  return rows[0];
}
