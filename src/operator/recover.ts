import { PG, pgCode } from '../db/pg-errors';
import { queryOver } from '../db/pool';
import { UTC_NOW } from '../db/sql';
import { readFacts, SagaFacts } from '../saga/facts';
import { SagaRunner } from '../saga/service';
import { deadLocalOwners, stuckCondition } from '../saga/stuck';
import { markStatsDirty } from '../stats/rollup';
import { Actor, recordAudit } from './audit';
import { contradictions, readEvidence } from './plan';
import { findStuck, StuckSaga } from './stuck';

export type Strategy = 'resume' | 'compensate';

export interface RecoverOptions {
  olderThanMs: number;
  strategy?: Strategy;
  /** At most this many sagas in all (default: every stuck one). */
  limit?: number;
  reason: string;
  actor: Actor;
  /** Exactly these stuck sagas (the ones a person confirmed), instead of finding them. */
  candidates?: StuckSaga[];
  onProgress?: (done: number) => void;
  /** What the audit calls it: `retry` when a redrive resumes a stuck saga (default recover). */
  auditAction?: 'recover' | 'retry';
}

export interface RecoverResult {
  transactionId: string;
  mode: string;
  before: string;
  action: string;
  after: string;
  /** Why it was refused or skipped, when it was. */
  detail?: string;
}

export interface RecoverReport {
  results: RecoverResult[];
  /** Stuck sagas another recoverer claimed first, or that moved again before the claim. */
  skipped: number;
  /** Sagas whose records and ledger disagree: left alone, for an operator. */
  refused: number;
}

/** Sagas claimed per round; rounds go on until no stuck saga is left. */
const ROUND = 200;

/** What recover would do with a stuck saga: compensating ones always go on compensating. */
export function actionFor(s: Pick<StuckSaga, 'status' | 'mode'>, strategy?: Strategy): string {
  if (s.status === 'compensating') return 'continue compensating';
  if (s.status === 'pending') return 'mark failed (no step committed)';
  if (strategy === 'compensate') return 'compensate';
  return s.mode === 'choreography' ? 'resume (redeliver outbox events)' : 'resume';
}

/** Stuck sagas recover may take: compensation_failed ones are an operator's call (saga compensate). */
export async function listRecoverable(runner: SagaRunner, opts: { olderThanMs: number; limit?: number }): Promise<StuckSaga[]> {
  const stuck = await findStuck(runner.deps.db, { olderThanMs: opts.olderThanMs, limit: (opts.limit ?? ROUND) + 1000 });
  return stuck.filter((s) => s.status !== 'compensation_failed').slice(0, opts.limit ?? ROUND);
}

/**
 * Claims stuck sagas one by one (SKIP LOCKED, and only while they are still stuck: several
 * recoverers may run at once and never take the same saga, nor one that moved meanwhile) and
 * drives each to a final status from its records. Each claim commits with its audit row, so a
 * recoverer killed mid-way leaves every saga it touched with the operator's reason on record.
 */
export async function recover(runner: SagaRunner, opts: RecoverOptions): Promise<RecoverReport> {
  const report: RecoverReport = { results: [], skipped: 0, refused: 0 };
  const seen = new Set<string>();
  const limit = opts.limit ?? Number.MAX_SAFE_INTEGER;
  for (;;) {
    const round = (opts.candidates ?? await listRecoverable(runner, { olderThanMs: opts.olderThanMs, limit: ROUND + seen.size }))
      .filter((s) => !seen.has(s.transactionId)).slice(0, limit - seen.size);
    if (round.length === 0) break;
    for (const saga of round) {
      seen.add(saga.transactionId);
      const r = await recoverOne(runner, saga, opts);
      if (r === 'skipped') report.skipped++;
      else {
        if (r.action === 'refused') report.refused++;
        report.results.push(r);
      }
      opts.onProgress?.(seen.size);
    }
    if (opts.candidates || seen.size >= limit) break;
  }
  return report;
}

async function recoverOne(runner: SagaRunner, saga: StuckSaga, opts: RecoverOptions): Promise<RecoverResult | 'skipped'> {
  const { db, owner, leaseMs } = runner.deps;
  const id = saga.transactionId;
  const dead = await deadLocalOwners(db);
  let claim: { f: SagaFacts; action: string } | 'skipped' | { refused: string };
  try {
    claim = await db.withTransaction(async (tx) => {
      await tx.query(`SELECT set_config('lock_timeout', $1, true)`, [String(runner.deps.lockTimeoutMs)]);
      const { rowCount } = await tx.query(
        `UPDATE saga_states s SET lease_owner = $4, lease_expires_at = now() + $5::int * interval '1 millisecond'
          WHERE s.transaction_id = (SELECT transaction_id FROM saga_states WHERE transaction_id = $1 FOR UPDATE SKIP LOCKED)
            AND s.status <> 'compensation_failed' AND ${stuckCondition('s', '$2', '$3')}`, [id, opts.olderThanMs, dead, owner, leaseMs]);
      if (rowCount !== 1) return 'skipped';
      const q = queryOver(tx);
      const f = (await readFacts(q, id))!;
      const facts = contradictions(f, await readEvidence(q, f));
      if (facts.length > 0) return { refused: `the step records and the ledger disagree: ${facts.join('; ')}` };
      const action = actionFor(f, opts.strategy);
      await prepare(tx, f, action);
      await recordAudit(q, opts.actor, { action: opts.auditAction ?? 'recover', transactionId: id, reason: opts.reason, outcome: 'claimed',
        details: { before: f.status, action, why: saga.why } });
      return { f, action };
    });
  } catch (err) {
    if (pgCode(err) !== PG.lockNotAvailable) throw err;
    claim = 'skipped';
  }
  if (claim === 'skipped') return 'skipped';
  if ('refused' in claim) {
    // Nothing was claimed (rolled back): left for an operator, who sees the same facts in `saga compensate`.
    await db.withTransaction((tx) => recordAudit(queryOver(tx), opts.actor, { action: opts.auditAction ?? 'recover', transactionId: id, reason: opts.reason,
      outcome: 'refused', details: { detail: claim && 'refused' in claim ? claim.refused : null } }));
    return { transactionId: id, mode: saga.mode, before: saga.status, action: 'refused', after: saga.status, detail: claim.refused };
  }
  const settled = await runner.driver.resume(id);
  await markStatsDirty(db, [id]); // its minute may be rolled up already
  await recordAudit(db, opts.actor, { action: opts.auditAction ?? 'recover', transactionId: id, reason: opts.reason, outcome: settled.status,
    details: { before: claim.f.status, action: claim.action } });
  return { transactionId: id, mode: claim.f.mode, before: claim.f.status, action: claim.action, after: settled.status };
}

/** The status change an action needs before the saga is driven on from its records. */
async function prepare(tx: { query: (sql: string, params?: unknown[]) => Promise<unknown> }, f: SagaFacts, action: string): Promise<void> {
  if (action.startsWith('mark failed') && f.committed.length === 0) {
    await tx.query(`UPDATE saga_states SET status = 'failed', lease_owner = NULL, lease_expires_at = NULL, updated_at = ${UTC_NOW}
                     WHERE transaction_id = $1`, [f.transactionId]);
  } else if (f.status === 'pending') {
    await tx.query(`UPDATE saga_states SET status = 'in_progress', updated_at = ${UTC_NOW} WHERE transaction_id = $1`, [f.transactionId]);
  }
  if (action === 'compensate') {
    await tx.query(`UPDATE saga_states SET status = 'compensating', error_code = 'RECOVERED_BY_COMPENSATION',
                           error_message = 'Compensated by saga recover', updated_at = ${UTC_NOW}
                     WHERE transaction_id = $1 AND status IN ('pending', 'in_progress')`, [f.transactionId]);
    // The forward events waiting in the outbox are superseded: the saga now only goes back.
    await tx.query('UPDATE saga_events SET delivered_at = now() WHERE transaction_id = $1 AND delivered_at IS NULL', [f.transactionId]);
  }
}
