import os from 'node:os';
import crypto from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Db, Tx, typed } from '../db/pool';
import { isConnectionError, PG, pgCode } from '../db/pg-errors';
import { Statement, valuesFor } from '../db/sql';
import { GroupExecutor } from './group';
import { compensationStatement, forwardStatement, START } from './statements';
import { SAGA_STEPS } from './steps';
import { SagaMode, SagaStatus, StepName } from './types';

/** What the engine needs: the database, who we are (the lease owner), and its limits. */
export interface EngineDeps {
  db: Db;
  owner: string;
  leaseMs: number;
  /** How long one statement may wait for a row lock before it fails cleanly (exit 4). */
  lockTimeoutMs: number;
  /** Group execution (default on): many sagas' same step in one statement. Off for comparisons. */
  grouping: boolean;
}

export const DEFAULT_LEASE_MS = 30_000;
export const DEFAULT_LOCK_TIMEOUT_MS = 5_000;
/** Sagas per statement at most: past a few hundred a batch only grows the statement. */
export const MAX_BATCH = 200;

/** host:pid:run — `saga stuck` tells a dead owner on this host from a live one by the pid. */
export function leaseOwner(): string {
  return `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`;
}

/** What one statement did to one saga (see src/saga/statements.ts). */
export interface StepResult {
  id: string;
  acted: boolean;
  code: string | null;
  status: SagaStatus;
  /** The saga's error code after the statement (its first rejection, or COMPENSATION_FAILED). */
  sagaError: string | null;
  /** For a saga not acted on: who holds it. */
  owner: string | null;
  eventId: string | null;
  eventType: string | null;
  nextUndo: StepName | null;
}

export interface StartRequest {
  id: string;
  mode: SagaMode;
  userId: string;
  itemId: string;
  quantity: number;
  inject: boolean;
}

export interface StepRequest {
  id: string;
  mode: SagaMode;
  inject: boolean;
  /** The outbox event this step consumes (choreography), or null. */
  eventId: string | null;
}

/** Failures worth the same statement again: each statement is its own transaction, safe to re-run. */
export function isTransient(err: unknown): boolean {
  const code = pgCode(err);
  return code === PG.serializationFailure || code === PG.deadlockDetected || isConnectionError(err);
}

/** A restarting server is waited for this long in all; a deadlock is retried at once, a few times. */
const RETRY_BUDGET_MS = 30_000;

/**
 * The saga engine: one group executor per statement (the start, each forward step, each
 * compensation), each sending its batch as one prepared statement and retrying transient failures.
 */
export class Engine {
  private readonly start$: GroupExecutor<StartRequest, StepResult>;
  private readonly forward$ = new Map<StepName, GroupExecutor<StepRequest, StepResult>>();
  private readonly compensate$ = new Map<StepName, GroupExecutor<StepRequest, StepResult>>();

  constructor(readonly deps: EngineDeps) {
    const group = { grouping: deps.grouping, max: MAX_BATCH, isTransient };
    this.start$ = new GroupExecutor((batch) => this.exec(START, {
      ids: batch.map((r) => r.id), modes: batch.map((r) => r.mode), users: batch.map((r) => r.userId),
      items: batch.map((r) => r.itemId), quantities: batch.map((r) => r.quantity), injects: batch.map((r) => r.inject),
    }), group);
    for (const step of SAGA_STEPS) {
      if (step.forward) this.forward$.set(step.name, this.stepExecutor(forwardStatement(step), group));
      if (step.compensation) this.compensate$.set(step.name, this.stepExecutor(compensationStatement(step), group));
    }
  }

  start(req: StartRequest): Promise<StepResult> {
    return this.start$.submit(req);
  }

  forward(step: StepName, req: StepRequest): Promise<StepResult> {
    return this.executor(this.forward$, step).submit(req);
  }

  compensate(step: StepName, req: StepRequest): Promise<StepResult> {
    return this.executor(this.compensate$, step).submit(req);
  }

  /** One saga's undo inside the caller's transaction (an operator's compensation, atomic with its audit). */
  async compensateIn(tx: Tx, step: StepName, req: StepRequest): Promise<StepResult> {
    const stmt = compensationStatement(SAGA_STEPS.find((s) => s.name === step)!);
    const { rows } = await tx.query(typed({ name: stmt.name, text: stmt.text }, this.values(stmt, {
      ids: [req.id], modes: [req.mode], injects: [req.inject], events: [req.eventId] })));
    return toResult(rows[0]);
  }

  private values(stmt: Statement, args: Record<string, unknown>): unknown[] {
    return valuesFor(stmt, { ...args, owner: this.deps.owner, lease_ms: this.deps.leaseMs, lock_timeout: String(this.deps.lockTimeoutMs) });
  }

  private executor(map: Map<StepName, GroupExecutor<StepRequest, StepResult>>, step: StepName) {
    const executor = map.get(step);
    if (!executor) throw new Error(`no statement for ${step}`);
    return executor;
  }

  private stepExecutor(stmt: Statement, group: ConstructorParameters<typeof GroupExecutor>[1]) {
    return new GroupExecutor<StepRequest, StepResult>((batch) => this.exec(stmt, {
      ids: batch.map((r) => r.id), modes: batch.map((r) => r.mode), injects: batch.map((r) => r.inject),
      events: batch.map((r) => r.eventId),
    }), group);
  }

  private async exec(stmt: Statement, args: Record<string, unknown>): Promise<StepResult[]> {
    const values = this.values(stmt, args);
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        const { rows } = await this.deps.db.pool.query(typed({ name: stmt.name, text: stmt.text }, values));
        return rows.map(toResult);
      } catch (err) {
        const waited = Date.now() - started;
        const deadlockLike = !isConnectionError(err);
        if (!isTransient(err) || (deadlockLike && attempt >= 5) || waited > RETRY_BUDGET_MS) throw err;
        await sleep(deadlockLike ? 0 : Math.min(2000, 50 * 2 ** attempt));
      }
    }
  }
}

function toResult(r: Record<string, unknown>): StepResult {
  return {
    id: r.id as string, acted: r.acted as boolean, code: r.code as string | null, status: r.status as SagaStatus,
    sagaError: r.saga_error as string | null, owner: r.owner as string | null,
    eventId: r.event_id === null ? null : String(r.event_id), eventType: r.event_type as string | null, nextUndo: r.next_undo as StepName | null,
  };
}
