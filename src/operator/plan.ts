import { Db } from '../db/pool';
import { sameAmount, toCents } from '../money';
import { SagaFacts, undosLeft } from '../saga/facts';
import { UNDOABLE_STEPS } from '../saga/steps';
import { StepKind, StepName } from '../saga/types';

/** One ledger row, as evidence. */
export interface Movement {
  id: string;
  step: StepName | null;
  kind: StepKind | null;
  account: 'user' | 'item';
  accountId: string;
  delta: string;
  at: string;
  xact?: string;
  who?: string;
  application?: string;
}

/** What the ledger says about a saga: its own movements, and movements nobody explained on its accounts since it began. */
export interface Evidence {
  movements: Movement[];
  unexplained: Movement[];
}

export const EVIDENCE_SQL = `
SELECT COALESCE((SELECT json_agg(json_build_object('id', l.id::text, 'step', l.step, 'kind', l.kind, 'account', l.account,
          'accountId', l.account_id, 'delta', l.delta::text, 'at', l.at) ORDER BY l.id)
          FROM ledger l WHERE l.transaction_id = $1), '[]') AS movements,
       COALESCE((SELECT json_agg(json_build_object('id', l.id::text, 'step', NULL, 'kind', NULL, 'account', l.account,
          'accountId', l.account_id, 'delta', l.delta::text, 'at', l.at, 'xact', l.xact::text, 'who', l.db_user,
          'application', l.application) ORDER BY l.id)
          FROM ledger l
         WHERE l.source = 'unattributed' AND ((l.account = 'user' AND l.account_id = $2) OR (l.account = 'item' AND l.account_id = $3))
           AND l.at >= ($4::timestamp AT TIME ZONE 'UTC') - interval '1 second'), '[]') AS unexplained`;

export async function readEvidence(db: Pick<Db, 'query'>, f: SagaFacts): Promise<Evidence> {
  return (await db.query<Evidence>(EVIDENCE_SQL, [f.transactionId, f.userId, f.itemId, new Date(f.createdAt).toISOString()]))[0];
}

/** One undo an operator is about to apply, with its exact amounts and the facts it rests on. */
export interface PlannedUndo {
  step: StepName;
  action: string;
  refund?: string;
  restock?: number;
  /** The ledger movement the undo reverses (null for the log, which moves no money). */
  movement: string | null;
}

/** An operator's override, checked: the step's forward movement found unattributed in the ledger, to be attributed. */
export interface Repair {
  step: StepName;
  movement: string;
  /** The step record is missing too, and is written from the movement. */
  writeRecord: boolean;
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
  /** Where the records and the ledger disagree: the facts behind a refusal. */
  facts: string[];
  undo: PlannedUndo[];
  repair?: Repair;
}

export interface PlanOptions {
  includeCompleted: boolean;
  /** The saga counts as stuck (src/saga/stuck.ts): nobody is driving it. */
  stuck: boolean;
  /** `--undo STEP`: a person checked that this step's effect happened and must be undone. */
  override?: StepName;
}

interface Expected {
  account: 'user' | 'item';
  accountId: string;
  /** The forward movement; its undo is the opposite. */
  delta: string;
}

function expected(step: StepName, f: SagaFacts): Expected | undefined {
  if (step === 'validate_user') return { account: 'user', accountId: f.userId, delta: `-${f.total}` };
  if (step === 'reserve_inventory') return { account: 'item', accountId: f.itemId, delta: `-${f.quantity}` };
  return undefined;
}

const describe = (m: Movement) => `ledger #${m.id}: ${m.account} ${m.accountId} ${toCents(m.delta) > 0n ? '+' : ''}${m.delta} at ${m.at}` +
  (m.application ? ` by ${m.who ?? '?'} (${m.application}, transaction ${m.xact})` : '');

/** Where one undoable step's records and ledger movements disagree; empty when they agree. */
function disagreements(step: StepName, f: SagaFacts, e: Evidence): string[] {
  const exp = expected(step, f);
  if (!exp) return [];
  const out: string[] = [];
  for (const kind of ['forward', 'compensation'] as const) {
    const recorded = (kind === 'forward' ? f.committed : f.compensated).includes(step);
    const moves = e.movements.filter((m) => m.step === step && m.kind === kind);
    const want = kind === 'forward' ? exp.delta : exp.delta.replace(/^-/, '');
    const right = moves.length === 1 && moves[0].account === exp.account && moves[0].accountId === exp.accountId && sameAmount(moves[0].delta, want);
    if (recorded && moves.length === 0) out.push(`${step} ${kind} is recorded, but the ledger shows no movement for it`);
    else if (!recorded && moves.length > 0) out.push(`the ledger shows ${moves.map(describe).join(', ')} for ${step} ${kind}, but no step record`);
    else if (recorded && !right) out.push(`${step} ${kind} should move ${exp.account} ${exp.accountId} by ${want}; the ledger shows ${moves.map(describe).join(', ')}`);
  }
  return out;
}

/** Every way a saga's records and the ledger disagree, and every movement nobody explained on its accounts. */
export function contradictions(f: SagaFacts, e: Evidence): string[] {
  return [...UNDOABLE_STEPS.flatMap((step) => disagreements(step, f, e)), ...e.unexplained.map((m) => `unexplained ${describe(m)}`)];
}

/**
 * Decides whether a saga may be compensated by hand and what that undoes: every committed step
 * with a compensation, not undone yet, newest first, each resting on its step record AND its
 * ledger movement. Where the two disagree, or the ledger shows movements nobody explained on the
 * saga's user or item since it began (a writer that bypassed the records), the saga is refused
 * with the facts: nothing is undone on a guess. Pure: tests feed it facts and evidence.
 */
export function planFor(id: string, f: SagaFacts | undefined, e: Evidence | undefined, o: PlanOptions): CompensationPlan {
  if (!f || !e) return { transactionId: id, found: false, refusal: 'not found', facts: [], undo: [] };
  const base = { transactionId: id, found: true, status: f.status, mode: f.mode, userId: f.userId, itemId: f.itemId };
  const refuse = (refusal: string, facts: string[] = []): CompensationPlan => ({ ...base, refusal, facts, undo: [] });
  if (f.status === 'compensated') return refuse('already compensated');
  if (f.status === 'completed' && !o.includeCompleted) return refuse('completed: a finished purchase is only undone with --include-completed');
  if (['pending', 'in_progress', 'compensating'].includes(f.status) && !o.stuck) {
    return refuse(`busy: in flight${f.leaseOwner ? `, leased to ${f.leaseOwner}` : ''}, and it moved recently`);
  }
  let repair: Repair | undefined;
  if (o.override) {
    const fixed = applyOverride(o.override, f, e);
    if ('refusal' in fixed) return refuse(fixed.refusal, fixed.facts);
    ({ f, e, repair } = fixed);
  }
  const facts = UNDOABLE_STEPS.flatMap((step) => disagreements(step, f!, e!));
  if (facts.length > 0) return refuse('the step records and the ledger disagree: what to undo cannot be proven', facts);
  if (e.unexplained.length > 0) {
    return refuse(`the ledger shows movements nobody explained on ${f.userId} or ${f.itemId} since this saga began: one may be this saga's`,
      e.unexplained.map(describe));
  }
  if (f.status === 'failed' && f.committed.length === 0) return refuse('failed at its first step: nothing was committed, nothing to undo');
  const undo = undosLeft(f).map((step): PlannedUndo => {
    const movement = e!.movements.find((m) => m.step === step && m.kind === 'forward')?.id ?? null;
    if (step === 'validate_user') return { step, action: `refund ${f!.total} to ${f!.userId}`, refund: f!.total, movement };
    if (step === 'reserve_inventory') return { step, action: `restock ${f!.quantity} ${f!.itemId}`, restock: f!.quantity, movement };
    return { step, action: `mark log-${id} reversed`, movement };
  });
  return { ...base, facts: [], undo, repair };
}

/**
 * `--undo STEP`: the step's forward movement is missing from the saga's own evidence; the person
 * says it happened. It is accepted only when the ledger shows exactly that movement unattributed
 * on the account since the saga began, and nothing since that took it back: never refund what the
 * ledger cannot show was taken, nor what it shows refunded already.
 */
function applyOverride(step: StepName, f: SagaFacts, e: Evidence): { f: SagaFacts; e: Evidence; repair?: Repair } | { refusal: string; facts: string[] } {
  const exp = expected(step, f);
  if (!exp) return { refusal: `--undo ${step}: it moves no money or stock, nothing to prove`, facts: [] };
  if (f.compensated.includes(step) || e.movements.some((m) => m.step === step && m.kind === 'compensation')) {
    return { refusal: `--undo ${step}: it is undone already`, facts: [] };
  }
  const own = e.movements.find((m) => m.step === step && m.kind === 'forward');
  if (own) {
    // The saga's own movement is there: the override can only add a missing record.
    return { f: { ...f, committed: [...new Set([...f.committed, step])] }, e, repair: f.committed.includes(step) ? undefined : { step, movement: own.id, writeRecord: true } };
  }
  const onAccount = e.unexplained.filter((m) => m.account === exp.account && m.accountId === exp.accountId);
  const matches = onAccount.filter((m) => sameAmount(m.delta, exp.delta));
  const net = onAccount.reduce((sum, m) => sum + toCents(m.delta), 0n);
  if (matches.length !== 1 || net !== toCents(exp.delta)) {
    const why = matches.length === 0 ? `the ledger shows no unattributed movement of ${exp.delta} on ${exp.account} ${exp.accountId} since this saga began`
      : net === 0n ? 'the ledger shows that movement taken back already'
        : 'the ledger shows several candidate movements';
    return { refusal: `--undo ${step}: ${why}; nothing is undone`, facts: onAccount.map(describe) };
  }
  const movement = matches[0];
  return {
    f: { ...f, committed: [...new Set([...f.committed, step])] },
    e: { movements: [...e.movements, { ...movement, step, kind: 'forward' }], unexplained: e.unexplained.filter((m) => m.id !== movement.id) },
    repair: { step, movement: movement.id, writeRecord: !f.committed.includes(step) },
  };
}
