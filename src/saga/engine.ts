import os from 'node:os';
import crypto from 'node:crypto';
import { Db, typed } from '../db/pool';
import { PG, pgCode } from '../db/pg-errors';
import { SagaMode } from './types';
import { StepDefinition } from './steps';
import { COMPENSATION_FAILED_SQL, compensationSql, forwardSql, START_SQL } from './statements';

/** What every driver needs: the database, who we are (the lease owner) and how long a lease lasts. */
export interface EngineDeps {
  db: Db;
  owner: string;
  leaseMs: number;
}

export const DEFAULT_LEASE_MS = 30_000;

/** host:pid:run — `saga stuck` tells a dead owner on this host from a live one by the pid. */
export function leaseOwner(): string {
  return `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`;
}

export interface StepOutcome {
  /** 0 when the saga was not ours to move (wrong status, mode, or leased to another owner). */
  owned: number;
  code: string | null;
  eventId: string | null;
  eventType: string | null;
  /** True when the step or compensation had already committed (unique key): nothing was done. */
  duplicate: boolean;
}

const TRANSIENT = new Set<string>([PG.serializationFailure, PG.deadlockDetected]);

/**
 * One statement, prepared by name. A transient failure is retried: each statement is its own
 * transaction, so a retry either finds the work undone, or done and refused by the unique key.
 */
async function exec(db: Db, name: string, text: string, values: unknown[]) {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await db.pool.query(typed({ name, text }, values))).rows[0];
    } catch (err) {
      if (!TRANSIENT.has(pgCode(err) ?? '') || attempt >= 5) throw err;
    }
  }
}

const forwardText = new Map<string, string>();
const compensationText = new Map<string, string>();

export async function startSaga(
  deps: EngineDeps, id: string, mode: SagaMode, req: { userId: string; itemId: string; quantity: number },
  inject: boolean, emit: boolean,
): Promise<{ code: string | null; total: string | null; eventId: string | null; eventType: string | null }> {
  const row = await exec(deps.db, 'saga_start', START_SQL,
    [id, mode, deps.owner, deps.leaseMs, inject, emit, req.userId, req.itemId, req.quantity]);
  return { code: row.code, total: row.total, eventId: row.event_id, eventType: row.event_type };
}

export async function runForward(
  deps: EngineDeps, step: StepDefinition, id: string, mode: SagaMode, inject: boolean, eventId: string | null, emit: boolean,
): Promise<StepOutcome> {
  if (!forwardText.has(step.name)) forwardText.set(step.name, forwardSql(step));
  return outcomeOf(() => exec(deps.db, `saga_fwd_${step.name}`, forwardText.get(step.name)!,
    [id, mode, deps.owner, deps.leaseMs, inject, eventId, emit]));
}

export async function runCompensation(
  deps: EngineDeps, step: StepDefinition, id: string, mode: SagaMode, inject: boolean, eventId: string | null,
  emit: boolean, last: boolean,
): Promise<StepOutcome & { done: boolean; committed: boolean }> {
  if (!compensationText.has(step.name)) compensationText.set(step.name, compensationSql(step));
  let row: { committed?: number; done?: number } = {};
  const outcome = await outcomeOf(async () => (row = await exec(deps.db, `saga_comp_${step.name}`,
    compensationText.get(step.name)!, [id, mode, deps.owner, deps.leaseMs, inject, eventId, emit, last])));
  return { ...outcome, done: row.done === 1, committed: row.committed === 1 };
}

export async function markCompensationFailed(deps: EngineDeps, id: string, message: string): Promise<void> {
  await deps.db.query(COMPENSATION_FAILED_SQL, [id, message]);
}

async function outcomeOf(run: () => Promise<Record<string, unknown>>): Promise<StepOutcome> {
  try {
    const row = await run();
    return {
      owned: row.owned as number,
      code: (row.code as string | null) ?? null,
      eventId: (row.event_id as string | null) ?? null,
      eventType: (row.event_type as string | null) ?? null,
      duplicate: false,
    };
  } catch (err) {
    // The unique (transaction_id, step, kind) key refused a second run: it had committed already.
    if (pgCode(err) === PG.uniqueViolation) return { owned: 1, code: null, eventId: null, eventType: null, duplicate: true };
    throw err;
  }
}
