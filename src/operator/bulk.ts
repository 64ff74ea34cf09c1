import { setTimeout as sleep } from 'node:timers/promises';
import { Db, lastWords } from '../db/pool';
import { describeFilter, filterJson } from '../saga/filter';
import { SagaRunner } from '../saga/service';
import { deadLocalOwners } from '../saga/stuck';
import { isTransient } from '../saga/engine';
import { InterruptedError, UsageError } from '../errors';
import { Actor, recordAudit } from './audit';
import { BatchRow, BulkAction, BulkRequest, nextBatch, REFUND, RESTOCK, selection } from './bulk-select';
import { compensateSaga } from './compensate';
import { checkTouched, GuardScope, GuardViolation, ledgerWatermark, newViolations } from './guard';
import { recover } from './recover';
import { retrySaga } from './retry';
import type { StuckSaga } from './stuck';

/** The count and totals an operator confirms: sagas, money to refund, stock to restore, the top 10 users and items. */
export interface BulkPlan {
  action: BulkAction;
  filter: Record<string, unknown>;
  description: string;
  sagas: number;
  refund: string;
  restock: number;
  byUser: { userId: string; sagas: number; refund: string }[];
  byItem: { itemId: string; sagas: number; restock: number }[];
  /** Sagas the filter matches that this action leaves alone, by status, and why. */
  leftAlone: { status: string; sagas: number; why: string }[];
}

const PLAN_SQL = (sql: string, undoes: string, limit: string) => `
WITH m AS (
  SELECT s.transaction_id, s.user_id, s.item_id, CASE WHEN ${undoes} THEN ${REFUND} ELSE 0 END AS refund,
         CASE WHEN ${undoes} THEN ${RESTOCK} ELSE 0 END AS restock
    FROM saga_states s WHERE ${sql} ORDER BY s.transaction_id LIMIT ${limit})
SELECT count(*)::int AS sagas, COALESCE(sum(refund), 0)::numeric(14,2)::text AS refund, COALESCE(sum(restock), 0)::bigint::text AS restock,
       (SELECT COALESCE(json_agg(u), '[]') FROM (SELECT user_id AS "userId", count(*)::int AS sagas, sum(refund)::numeric(14,2)::text AS refund FROM m
          GROUP BY user_id ORDER BY sum(refund) DESC, user_id LIMIT 10) u) AS "byUser",
       (SELECT COALESCE(json_agg(i), '[]') FROM (SELECT item_id AS "itemId", count(*)::int AS sagas, sum(restock)::int AS restock FROM m
          GROUP BY item_id ORDER BY sum(restock) DESC, item_id LIMIT 10) i) AS "byItem"
  FROM m`;

const LEFT_ALONE: Record<BulkAction, Record<string, string>> = {
  compensate: { completed: 'a finished purchase: --include-completed refunds it', compensated: 'compensated already', failed: 'failed at its first step: nothing to undo' },
  recover: { compensation_failed: 'waits for an operator: saga retry or saga compensate' },
  retry: { completed: 'its notification was sent: nothing to redrive', compensated: 'final: nothing to redrive', failed: 'final: nothing to redrive' },
};

export async function planBulk(db: Pick<Db, 'query'>, req: BulkRequest): Promise<BulkPlan> {
  const sel = await selection(db, req);
  const params = [...sel.params, req.limit ?? null];
  const [row] = await db.query(PLAN_SQL(sel.sql, sel.undoes, `$${params.length}::bigint`), params);
  const alone = await db.query<{ status: string; sagas: number }>(
    `SELECT s.status, count(*)::int AS sagas FROM saga_states s WHERE ${sel.leftAlone} GROUP BY s.status ORDER BY s.status`, sel.params);
  return {
    action: req.action, filter: filterJson(req.filter), description: describeFilter(req.filter),
    sagas: row.sagas, refund: row.refund, restock: Number(row.restock), byUser: row.byUser, byItem: row.byItem,
    leftAlone: alone.map((a) => ({ ...a, why: LEFT_ALONE[req.action][a.status] ?? 'in flight and moving (not stuck): its owner is driving it' })),
  };
}

/** One saga's outcome in a bulk run: the per-saga result of its action, with its outcome named alike. */
export interface BulkSagaResult {
  transactionId: string;
  before: string | null;
  outcome: string;
  detail: string | null;
  [more: string]: unknown;
}

export interface BulkRunOptions extends BulkRequest {
  reason: string;
  actor: Actor;
  /** Sagas per batch: the guard runs after each. */
  batch: number;
  /** At most this many sagas per second. */
  ratePerSec?: number;
  /** Sagas compensated (recovered, retried) at once, each on its own connection (default 1). */
  concurrency?: number;
  /** Stops between two sagas (each saga's outcome is its own transaction). */
  signal?: AbortSignal;
  /** Before each saga (and once before the first): may throw to stop the run (the CLI's Ctrl-C). */
  onProgress?: (done: number) => void;
  /** After each batch, with the sagas it touched (the cache forgets them). */
  onBatch?: (ids: string[]) => void | Promise<void>;
  /** Tests and drills: runs after each batch, before its guard check. */
  beforeGuard?: (scope: GuardScope) => Promise<void>;
}

export interface BulkReport {
  action: BulkAction;
  outcome: 'done' | 'interrupted' | 'guard_stopped';
  processed: number;
  /** Per-saga outcomes counted: compensated, refused, resent, completed... */
  counts: Record<string, number>;
  /** What the ledger shows the run gave back (its sagas' compensations). */
  refunded: string;
  restocked: number;
  results: BulkSagaResult[];
  /** The invariants a batch broke (the run stopped there). */
  violations: GuardViolation[];
}

/**
 * Acts on every saga the request selects, batch by batch (keyset on the id, so a second run takes
 * what the first left), one transaction per saga through the compensate, recover or retry path,
 * paced to `ratePerSec`; after each batch the guard re-checks the batch's users, items and sagas
 * and stops the run at the first violation the batch made appear (src/operator/guard.ts). One audit row for the whole run besides one per saga.
 */
export async function runBulk(runner: SagaRunner, o: BulkRunOptions): Promise<BulkReport> {
  assertPacing(o);
  const db = runner.deps.db;
  const report: BulkReport = { action: o.action, outcome: 'done', processed: 0, counts: {}, refunded: '0.00', restocked: 0, results: [], violations: [] };
  const mark = await ledgerWatermark(db);
  const started = Date.now();
  let begun = 0;
  let after = '';
  try {
    o.onProgress?.(0);
    for (;;) {
      const size = Math.min(o.batch, (o.limit ?? Number.MAX_SAFE_INTEGER) - report.processed);
      const rows = size > 0 ? await nextBatch(db, o, after, size) : [];
      if (rows.length === 0) break;
      const scope = { users: uniq(rows.map((r) => r.userId)), items: uniq(rows.map((r) => r.itemId)), sagas: rows.map((r) => r.transactionId), sinceLedgerId: mark };
      const baseline = await checkTouched(db, scope);
      const deadOwners = await deadLocalOwners(db);
      await inParallel(rows, o.concurrency ?? 1, async (row) => {
        if (o.signal?.aborted) {
          throw new InterruptedError(o.signal.reason === 'SIGTERM' ? 'SIGTERM' : 'SIGINT',
            `Stopped after ${report.processed} saga(s), each done whole; the same run again takes the rest.`);
        }
        if (o.ratePerSec) await sleep(Math.max(0, started + (begun++ / o.ratePerSec) * 1000 - Date.now()));
        const r = await actOn(runner, { ...o, deadOwners }, row);
        report.results.push(r);
        report.counts[r.outcome] = (report.counts[r.outcome] ?? 0) + 1;
        report.processed++;
        o.onProgress?.(report.processed);
      });
      after = rows[rows.length - 1].transactionId;
      await o.onBatch?.(scope.sagas);
      await o.beforeGuard?.(scope);
      report.violations = newViolations(baseline, await checkTouched(db, scope));
      if (report.violations.length > 0) {
        report.outcome = 'guard_stopped';
        break;
      }
    }
  } catch (err) {
    report.outcome = 'interrupted';
    await lastWords(db, (q) => finish(q, o, report, mark)).catch(() => undefined);
    throw err;
  }
  await finish(db, o, report, mark);
  return report;
}

/** The library's callers get the CLI's checks: a batch of 0 or a rate of 0 would do nothing, silently. */
function assertPacing(o: Pick<BulkRunOptions, 'batch' | 'ratePerSec' | 'concurrency' | 'limit'>): void {
  const whole = (v: number | undefined, name: string, min: number, max: number) => {
    if (v !== undefined && !(Number.isInteger(v) && v >= min && v <= max)) throw new UsageError(`${name} must be a whole number from ${min} to ${max}, got ${v}.`);
  };
  whole(o.batch, 'batch', 1, 10_000);
  whole(o.concurrency, 'concurrency', 1, 32);
  whole(o.limit, 'limit', 1, 100_000_000);
  if (o.ratePerSec !== undefined && !(o.ratePerSec > 0 && o.ratePerSec <= 100_000)) throw new UsageError(`ratePerSec must be more than 0 and at most 100000, got ${o.ratePerSec}.`);
}

/**
 * `work` over the rows, `n` at a time (each saga its own transaction, so they need not wait for one
 * another but on the rows they share). The first failure stops new work; the work in flight is let
 * finish (it commits or rolls back whole) before the failure is thrown, so the report counts it.
 */
async function inParallel<T>(rows: T[], n: number, work: (row: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < rows.length) {
      try {
        await work(rows[next++]);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.min(n, rows.length) }, worker));
  const failure = settled.find((x): x is PromiseRejectedResult => x.status === 'rejected');
  if (failure) throw failure.reason;
}

/** One saga; a deadlock between two sagas done at once rolled its transaction back whole: it is simply done again. */
type Acting = BulkRunOptions & { deadOwners: string[] };

async function actOn(runner: SagaRunner, o: Acting, row: BatchRow): Promise<BulkSagaResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await actOnce(runner, o, row);
    } catch (err) {
      if (!isTransient(err) || attempt >= 3) throw err;
    }
  }
}

async function actOnce(runner: SagaRunner, o: Acting, row: BatchRow): Promise<BulkSagaResult> {
  const common = { reason: o.reason, actor: o.actor, olderThanMs: o.olderThanMs };
  if (o.action === 'compensate') {
    const r = await compensateSaga(runner.engine, row.transactionId, { ...common, includeCompleted: Boolean(o.includeCompleted), deadOwners: o.deadOwners });
    return { ...r };
  }
  if (o.action === 'retry') return { ...await retrySaga(runner, row.transactionId, common) };
  const rep = await recover(runner, { ...common, strategy: o.strategy, candidates: [row as unknown as StuckSaga] });
  const r = rep.results[0];
  if (!r) return { transactionId: row.transactionId, before: row.status, outcome: 'skipped', detail: 'claimed by another recoverer, or it moved again' };
  return { ...r, outcome: r.action === 'refused' ? 'refused' : r.after, detail: r.detail ?? null };
}

/** The run's totals from the ledger, and its one audit row (skipped when it selected nothing). */
async function finish(db: Pick<Db, 'query'>, o: BulkRunOptions, report: BulkReport, mark: string): Promise<void> {
  const ids = report.results.map((r) => r.transactionId);
  const [moved] = await db.query<{ refunded: string; restocked: string }>(
    `SELECT COALESCE(sum(delta) FILTER (WHERE account = 'user'), 0)::numeric(14,2)::text AS refunded,
            COALESCE(sum(delta) FILTER (WHERE account = 'item'), 0)::bigint::text AS restocked
       FROM ledger WHERE id > $1::bigint AND source = 'saga' AND kind = 'compensation' AND transaction_id = ANY($2::text[])`, [mark, ids]);
  report.refunded = moved.refunded;
  report.restocked = Number(moved.restocked);
  if (report.processed === 0 && report.outcome === 'done') return;
  await recordAudit(db, o.actor, { action: `bulk_${o.action}`, transactionId: null, reason: o.reason, outcome: report.outcome,
    details: { filter: filterJson(o.filter), includeCompleted: Boolean(o.includeCompleted), strategy: o.strategy ?? null, limit: o.limit ?? null,
      processed: report.processed, counts: report.counts, refunded: report.refunded, restocked: report.restocked,
      rate: o.ratePerSec ?? null, batch: o.batch, violations: report.violations } });
}

const uniq = (xs: string[]) => [...new Set(xs)];
