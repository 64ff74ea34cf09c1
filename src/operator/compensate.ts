import { PG, pgCode } from '../db/pg-errors';
import { queryOver, Tx } from '../db/pool';
import { UTC_NOW } from '../db/sql';
import { Db } from '../db/pool';
import { toCents } from '../money';
import { Engine } from '../saga/engine';
import { readFacts, SagaFacts } from '../saga/facts';
import { FINISH_COMPENSATION } from '../saga/statements';
import { deadLocalOwners, stuckCondition } from '../saga/stuck';
import { StepName } from '../saga/types';
import { markStatsDirty } from '../stats/rollup';
import { Actor, recordAudit } from './audit';
import { CompensationPlan, PlannedUndo, planFor, readEvidence, Repair } from './plan';

export type CompensateOutcome = 'compensated' | 'compensation_failed' | 'refused' | 'not_found' | 'busy';

export interface CompensateResult {
  transactionId: string;
  before: string | null;
  outcome: CompensateOutcome;
  detail: string | null;
  /** Where records and ledger disagree (the facts behind a refusal). */
  facts: string[];
  undo: PlannedUndo[];
  /** The ledger moved by exactly the planned amounts, and nothing else moved (null when nothing ran). */
  verified: boolean | null;
}

export interface CompensateOptions {
  reason: string;
  actor: Actor;
  includeCompleted: boolean;
  olderThanMs: number;
  /** `--undo STEP`: an audited override for a step a person checked. */
  override?: StepName;
  /** Drills and tests: make the undo of this step fail. */
  failAt?: StepName;
  /** What the audit calls it: `retry` when a redrive re-attempts a failed undo (default compensate). */
  auditAction?: 'compensate' | 'retry';
  /** The stuck rule's dead owners (deadLocalOwners), when the caller just read them (a bulk run, per batch). */
  deadOwners?: string[];
}

/** A step that lost its saga to another process: the whole compensation is rolled back. */
class Abandon extends Error {
  constructor(readonly result: Omit<CompensateResult, 'transactionId'>) {
    super(result.detail ?? result.outcome);
  }
}

/** The plans, read without locks and without writing: what --dry-run and the confirmation show. */
export async function planCompensations(engine: Engine, ids: string[], opts: Pick<CompensateOptions, 'includeCompleted' | 'olderThanMs' | 'override'>): Promise<CompensationPlan[]> {
  const db = engine.deps.db;
  const dead = await deadLocalOwners(db);
  return Promise.all(ids.map(async (id) => {
    const f = await readFacts(db, id);
    return planFor(id, f, f && await readEvidence(db, f), { ...opts, stuck: Boolean(f) && await isStuck(db, id, opts.olderThanMs, dead) });
  }));
}

async function isStuck(db: Pick<Db, 'query'>, id: string, olderThanMs: number, dead: string[]): Promise<boolean> {
  const rows = await db.query(`SELECT 1 FROM saga_states s WHERE s.transaction_id = $1 AND ${stuckCondition('s', '$2', '$3')}`, [id, olderThanMs, dead]);
  return rows.length > 0;
}

/**
 * Compensates one saga by hand, in one transaction: the saga's row lock (NOWAIT: a second operator
 * is told it is busy), then its user's and item's row locks, and only then the evidence (a fresh
 * snapshot under those locks: a refund by another writer cannot land between the decision and the
 * act); the plan; the undos through the engine's own exactly-once statements; the ledger checked
 * to have moved by exactly the planned amounts; the audit row. All of it commits together, or
 * nothing does.
 */
export async function compensateSaga(engine: Engine, id: string, opts: CompensateOptions): Promise<CompensateResult> {
  const db = engine.deps.db;
  const dead = opts.deadOwners ?? await deadLocalOwners(db);
  const action = opts.auditAction ?? 'compensate';
  let result: CompensateResult;
  try {
    result = await db.withTransaction(async (tx) => {
      // The ledger's newest id before this saga's undos (verify reads what came after), with the lock timeout.
      const { rows: [mark] } = await tx.query(`SELECT set_config('lock_timeout', $1, true), COALESCE(max(id), 0)::text AS id FROM ledger`,
        [String(engine.deps.lockTimeoutMs)]);
      const q = queryOver(tx);
      const locked = await readFacts(q, id, 'FOR UPDATE OF s NOWAIT');
      if (!locked) return { transactionId: id, before: null, outcome: 'not_found', detail: 'no such saga', facts: [], undo: [], verified: null };
      await tx.query('SELECT 1 FROM users WHERE user_id = $1 FOR NO KEY UPDATE', [locked.userId]);
      await tx.query('SELECT 1 FROM items WHERE item_id = $1 FOR NO KEY UPDATE', [locked.itemId]);
      const f = (await readFacts(q, id))!;
      // Only a saga in flight needs to be stuck to be taken (plan.ts): the others skip the question.
      const inFlight = ['pending', 'in_progress', 'compensating'].includes(f.status);
      const plan = planFor(id, f, await readEvidence(q, f), { ...opts, stuck: inFlight && await isStuck(q, id, opts.olderThanMs, dead) });
      const base = { transactionId: id, before: f.status, facts: plan.facts, undo: plan.undo };
      if (plan.refusal) {
        await recordAudit(q, opts.actor, { action, transactionId: id, reason: opts.reason, outcome: 'refused',
          details: { before: f.status, refusal: plan.refusal, facts: plan.facts } });
        return { ...base, outcome: 'refused', detail: plan.refusal, verified: null };
      }
      if (plan.repair) await repair(tx, f, plan.repair);
      const outcome = await applyUndos(engine, tx, f, plan, opts.failAt);
      const verified = outcome === 'compensated' ? await verify(tx, f, plan, mark.id) : false;
      if (outcome === 'compensated' && !verified) {
        throw new Abandon({ ...base, outcome: 'refused', detail: 'the ledger did not move by exactly the planned amounts: rolled back, nothing changed', verified: false });
      }
      await markStatsDirty(q, [id]);
      await recordAudit(q, opts.actor, { action, transactionId: id, reason: opts.reason, outcome,
        details: { before: f.status, undo: plan.undo, repair: plan.repair ?? null, verified } });
      return { ...base, outcome, detail: outcome === 'compensated' ? null : `the undo of ${opts.failAt ?? 'a step'} could not be applied`, verified };
    });
  } catch (err) {
    if (err instanceof Abandon) result = { transactionId: id, ...err.result };
    else if (pgCode(err) === PG.lockNotAvailable) {
      result = { transactionId: id, before: null, outcome: 'busy', detail: 'busy: another operator or process holds this saga or its rows right now', facts: [], undo: [], verified: null };
    } else throw err;
    await db.withTransaction((tx) => recordAudit(queryOver(tx), opts.actor, { action, transactionId: id, reason: opts.reason,
      outcome: result.outcome === 'busy' ? 'busy' : 'refused', details: { detail: result.detail } })).catch(() => undefined);
  }
  return result;
}

/** The override's repair: the forward movement attributed to this saga's step, and its record written if missing. */
async function repair(tx: Tx, f: SagaFacts, r: Repair): Promise<void> {
  await tx.query(`UPDATE ledger SET source = 'saga', transaction_id = $2, step = $3, kind = 'forward'
                   WHERE id = $1 AND source = 'unattributed'`, [r.movement, f.transactionId, r.step]);
  if (!r.writeRecord) return;
  // The record the step would have written (its amount), and where it was restored from.
  const data = { ...(r.step === 'validate_user' ? { amount: f.total } : { quantity: f.quantity }),
    restoredFrom: `ledger #${r.movement}`, by: 'operator override' };
  const { rowCount } = await tx.query(
    `INSERT INTO saga_step_results (transaction_id, step, kind, status, data, executed_at)
     VALUES ($1, $2, 'forward', 'succeeded', $3, ${UTC_NOW})
     ON CONFLICT (transaction_id, step, kind) DO NOTHING`, [f.transactionId, r.step, JSON.stringify(data)]);
  if (rowCount !== 1) throw new Abandon({ before: f.status, outcome: 'refused', facts: [], undo: [], verified: null,
    detail: `--undo ${r.step}: a record of that step exists already (it failed): nothing changed` });
}

async function applyUndos(engine: Engine, tx: Tx, f: SagaFacts, plan: CompensationPlan, failAt?: StepName): Promise<CompensateOutcome> {
  const { owner, leaseMs } = engine.deps;
  await tx.query(`UPDATE saga_states SET status = 'compensating', lease_owner = $2, lease_expires_at = now() + $3::int * interval '1 millisecond',
                         updated_at = ${UTC_NOW}, error_code = COALESCE(error_code, 'OPERATOR_COMPENSATION'),
                         error_message = COALESCE(error_message, 'Compensated by an operator')
                   WHERE transaction_id = $1`, [f.transactionId, owner, leaseMs]);
  const outcome = await undoInOrder(engine, tx, f, plan, failAt);
  if (outcome === 'compensated' && plan.undo.length === 0) await tx.query(FINISH_COMPENSATION, [f.transactionId, owner]);
  // Choreography's outbox: the events that were waiting, and those the undos just emitted for the
  // next undo, are superseded: the operator drove every undo here, nothing is left to deliver.
  if (f.mode === 'choreography') {
    await tx.query('UPDATE saga_events SET delivered_at = now() WHERE transaction_id = $1 AND delivered_at IS NULL', [f.transactionId]);
  }
  return outcome;
}

async function undoInOrder(engine: Engine, tx: Tx, f: SagaFacts, plan: CompensationPlan, failAt?: StepName): Promise<CompensateOutcome> {
  for (const undo of plan.undo) {
    const r = await engine.compensateIn(tx, undo.step, { id: f.transactionId, mode: f.mode, inject: failAt === undo.step, eventId: null });
    if (!r.acted) {
      throw new Abandon({ before: f.status, outcome: 'busy', facts: [], undo: plan.undo, verified: null, detail: `the undo of ${undo.step} did not apply: rolled back` });
    }
    if (r.status === 'compensation_failed') return 'compensation_failed';
  }
  return 'compensated';
}

/**
 * Every planned refund and restock moved the ledger once, by exactly its amount, and this transaction
 * moved nothing else since `mark` (the ledger's newest id when it began: under --what-if, many
 * compensations share one transaction, each in its own savepoint).
 */
async function verify(tx: Tx, f: SagaFacts, plan: CompensationPlan, mark: string): Promise<boolean> {
  const { rows } = await tx.query<{ step: string; kind: string; account: string; account_id: string; delta: string; source: string; transaction_id: string | null }>(
    `SELECT step, kind, account, account_id, delta::text AS delta, source, transaction_id FROM ledger
      WHERE xact = pg_current_xact_id()::text::bigint AND id > $1::bigint ORDER BY id`, [mark]);
  const { rows: [saga] } = await tx.query('SELECT status FROM saga_states WHERE transaction_id = $1', [f.transactionId]);
  const wanted = plan.undo.flatMap((u) => u.refund !== undefined ? [{ step: u.step, account: 'user', id: f.userId, delta: toCents(u.refund) }]
    : u.restock !== undefined ? [{ step: u.step, account: 'item', id: f.itemId, delta: BigInt(u.restock) * 100n }] : []);
  const moved = rows.filter((r) => r.kind === 'compensation' && r.transaction_id === f.transactionId);
  return saga?.status === 'compensated' && rows.length === moved.length && moved.length === wanted.length
    && wanted.every((w) => moved.some((m) => m.step === w.step && m.account === w.account && m.account_id === w.id && toCents(m.delta) === w.delta));
}

