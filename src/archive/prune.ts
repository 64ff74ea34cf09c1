import { Db, lastWords, Tx } from '../db/pool';
import { InterruptedError, UsageError } from '../errors';
import { Actor, recordAudit } from '../operator/audit';
import { filterJson, sagaWhere, SagaFilter, Where } from '../saga/filter';
import { keepPruned, refreshRollup, SETTLE_MS } from '../stats/rollup';
import { exportSagas } from './export';
import { FileSink } from './file-sink';

/**
 * `saga prune`: deletes finished sagas created before a cutoff, in short batches (each its own
 * transaction, FOR UPDATE SKIP LOCKED, so no lock is held for long and nothing waits on it).
 *
 * Nothing is lost on the way:
 * - the statistics: the rollup is brought up to the cutoff first, and only sagas of minutes it
 *   holds are deleted (`stats` reads those minutes from the rollup, so its counts stay the same);
 *   a saga of a minute not yet foldable (--before 0s, the current minute) waits for a later run;
 *   what the statistics counted of each deleted saga is kept (saga_stats_pruned), so a minute
 *   folded again later still counts it;
 * - the ledger: the deleted sagas' movements are folded into each user's and item's opening
 *   entry, so every balance still equals the sum of its entries and `db check` passes;
 * - with an archive, the sagas are exported first, and a saga that moved after that export is
 *   not deleted (it would be missing from the archive).
 */
export const PRUNABLE = ['completed', 'compensated', 'failed'] as const;

export interface PruneOptions {
  filter: SagaFilter;
  /** Sagas created before this instant. */
  before: Date;
  /** How long ago `before` is, in ms: the settle time of the rollup refresh is never longer. */
  beforeMs: number;
  batch: number;
  actor: Actor;
  reason: string;
  /** Export the sagas there first (ndjson). */
  archive?: { sink: FileSink; file: string };
  onProgress?: (done: number, total: number) => void;
  /** Ctrl-C: once aborted, a failure is audited as interrupted (its statements were cancelled). */
  signal?: AbortSignal;
}

export interface PrunePlan {
  before: string;
  filter: Record<string, unknown>;
  statuses: string[];
  /** Sagas that would be deleted now, per status. */
  byStatus: Record<string, number>;
  total: number;
  /** Matching sagas of minutes the statistics cannot fold yet: left for a later run. */
  deferred: number;
}

export interface PruneResult extends PrunePlan {
  deleted: number;
  batches: number;
  ledgerAccountsFolded: number;
  archived?: { file: string; sagas: number; bytes: number };
  seconds: number;
}

/** The statuses to prune: FILTERS' --status, of which only final ones are allowed; else all final ones. */
export function prunableStatuses(filter: SagaFilter): string[] {
  const asked = filter.status === undefined ? [...PRUNABLE] : ([] as string[]).concat(filter.status as string | string[]);
  const other = asked.filter((s) => !(PRUNABLE as readonly string[]).includes(s));
  if (other.length > 0) {
    throw new UsageError(`prune deletes only finished sagas (${PRUNABLE.join(', ')}); --status ${other.join(',')} is not one of them.`,
      'compensation_failed sagas wait for an operator (saga compensate / saga retry), and sagas in flight are not finished.');
  }
  return asked;
}

/** The selection, with prune's own conditions after FILTERS' parameters. */
function selection(where: Where, statuses: string[], cutoff: Date, movedBefore?: Date): Where {
  const params = [...where.params, statuses, cutoff.toISOString()];
  const n = params.length;
  let sql = `${where.sql} AND s.status = ANY($${n - 1}::text[]) AND s.created_at < $${n}::timestamp`;
  if (movedBefore) sql += ` AND s.updated_at < $${params.push(movedBefore.toISOString())}::timestamp`;
  return { sql, params };
}

/** What the rollup can hold now: created_at minutes before now less the settle time. */
async function foldableUntil(db: Db, settleMs: number): Promise<Date> {
  const [{ at }] = await db.query(`SELECT date_trunc('minute', timezone('UTC', now()) - $1::int * interval '1 millisecond') AS at`, [settleMs]);
  return at;
}

const settleOf = (beforeMs: number) => Math.min(SETTLE_MS, beforeMs);
const earlier = (a: Date, b: Date) => (a.getTime() <= b.getTime() ? a : b);

export async function planPrune(db: Db, opts: Pick<PruneOptions, 'filter' | 'before' | 'beforeMs'>): Promise<PrunePlan> {
  const statuses = prunableStatuses(opts.filter);
  const where = await sagaWhere(db, opts.filter);
  const cutoff = earlier(opts.before, await foldableUntil(db, settleOf(opts.beforeMs)));
  const sel = selection(where, statuses, opts.before);
  const n = sel.params.length + 1;
  const rows = await db.query(`SELECT s.status, count(*) FILTER (WHERE s.created_at < $${n}::timestamp)::bigint::text AS now,
      count(*)::bigint::text AS all FROM saga_states s WHERE ${sel.sql} GROUP BY s.status`, [...sel.params, cutoff.toISOString()]);
  const byStatus = Object.fromEntries(statuses.map((s) => [s, 0]));
  let total = 0;
  let deferred = 0;
  for (const r of rows) {
    byStatus[r.status] = Number(r.now);
    total += Number(r.now);
    deferred += Number(r.all) - Number(r.now);
  }
  return { before: opts.before.toISOString(), filter: filterJson(opts.filter), statuses, byStatus, total, deferred };
}

export async function prune(db: Db, opts: PruneOptions): Promise<PruneResult> {
  const started = process.hrtime.bigint();
  const plan = await planPrune(db, opts);
  const result: PruneResult = { ...plan, deleted: 0, batches: 0, ledgerAccountsFolded: 0, seconds: 0 };
  let movedBefore: Date | undefined;
  if (opts.archive) {
    const [{ now }] = await db.query(`SELECT timezone('UTC', now()) AS now`);
    movedBefore = now;
    const until = opts.filter.until ? earlier(opts.filter.until, opts.before) : opts.before;
    const exported = await exportSagas(db, { filter: { ...opts.filter, status: plan.statuses as never, until }, format: 'ndjson',
      write: opts.archive.sink.write });
    await opts.archive.sink.done();
    result.archived = { file: opts.archive.file, sagas: exported.sagas, bytes: exported.bytes };
  }
  // The statistics first: every minute whose sagas may be deleted is rolled up before any is.
  const refreshed = await refreshRollup(db, { settleMs: settleOf(opts.beforeMs) });
  if (refreshed.skipped) throw new UsageError(`Nothing pruned: ${refreshed.skipped}, and pruning without it would lose the deleted sagas from stats.`);
  const cutoff = earlier(opts.before, refreshed.rolledUntil ?? new Date(0));
  const sel = selection(await sagaWhere(db, opts.filter), plan.statuses, cutoff, movedBefore);
  let outcome = 'failed';
  try {
    for (;;) {
      const done = await db.withTransaction((tx) => pruneBatch(tx, sel, opts.batch));
      if (done.deleted === 0) break;
      result.deleted += done.deleted;
      result.ledgerAccountsFolded += done.folded;
      result.batches += 1;
      opts.onProgress?.(result.deleted, Math.max(plan.total, result.deleted));
    }
    outcome = 'done';
  } catch (err) {
    if (err instanceof InterruptedError || opts.signal?.aborted) outcome = 'interrupted';
    throw err;
  } finally {
    result.seconds = Number(process.hrtime.bigint() - started) / 1e9;
    // A run that failed or was interrupted is still audited when the database can be reached; its own error is the one reported.
    await lastWords(db, (q) => recordAudit(q, opts.actor, { action: 'prune', transactionId: null, reason: opts.reason, outcome, details: {
      before: plan.before, filter: plan.filter, statuses: plan.statuses, deleted: result.deleted, batches: result.batches,
      ledgerAccountsFolded: result.ledgerAccountsFolded, archive: result.archived ?? null, deferred: plan.deferred,
    } })).catch((err) => {
      if (outcome === 'done') throw err;
    });
  }
  return result;
}

/**
 * One batch: the sagas locked (skipping any a running command holds), their ledger movements
 * folded into their accounts' opening entries (the earliest; one is opened where none exists),
 * then their rows deleted, children first. The audit trail stays: it outlives the sagas.
 */
async function pruneBatch(tx: Tx, sel: Where, batch: number): Promise<{ deleted: number; folded: number }> {
  const { rows } = await tx.query(`SELECT s.transaction_id FROM saga_states s WHERE ${sel.sql}
    ORDER BY s.created_at LIMIT $${sel.params.length + 1} FOR UPDATE SKIP LOCKED`, [...sel.params, batch]);
  if (rows.length === 0) return { deleted: 0, folded: 0 };
  const ids = rows.map((r) => r.transaction_id as string);
  // The statistics keep counting them once their rows are gone (a rebuilt minute adds these back).
  await keepPruned(tx, ids);
  const folded = await tx.query(`WITH moved AS (
      DELETE FROM ledger WHERE transaction_id = ANY($1::text[]) AND source = 'saga' RETURNING account, account_id, delta),
    sums AS (SELECT account, account_id, sum(delta) AS delta FROM moved GROUP BY 1, 2 HAVING sum(delta) <> 0),
    opening AS (SELECT DISTINCT ON (l.account, l.account_id) l.id, l.account, l.account_id
                  FROM ledger l JOIN sums USING (account, account_id) WHERE l.source = 'opening' ORDER BY l.account, l.account_id, l.id),
    folded AS (UPDATE ledger l SET delta = l.delta + s.delta FROM opening o JOIN sums s USING (account, account_id)
                WHERE l.id = o.id RETURNING l.id),
    opened AS (INSERT INTO ledger (at, xact, db_user, application, account, account_id, delta, source)
      SELECT now(), pg_current_xact_id()::text::bigint, session_user, left(current_setting('application_name'), 100), s.account, s.account_id,
             s.delta, 'opening'
        FROM sums s WHERE NOT EXISTS (SELECT 1 FROM opening o WHERE o.account = s.account AND o.account_id = s.account_id)
      RETURNING id)
    SELECT (SELECT count(*) FROM folded) + (SELECT count(*) FROM opened) AS accounts`, [ids]);
  for (const table of ['saga_step_results', 'transaction_logs', 'notifications', 'saga_events', 'saga_states']) {
    await tx.query(`DELETE FROM ${table} WHERE transaction_id = ANY($1::text[])`, [ids]);
  }
  return { deleted: ids.length, folded: Number(folded.rows[0].accounts) };
}
