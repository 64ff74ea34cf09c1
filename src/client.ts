import os from 'node:os';
import type { Pool } from 'pg';
import { UsageError } from './errors';
import { validateRedisUrl } from './config';
import { backendPids, createDb, createPool, Db } from './db/pool';
import { NO_CACHE, readThrough, SagaCache } from './cache/saga-cache';
import { DEFAULT_LEASE_MS, DEFAULT_LOCK_TIMEOUT_MS, EngineDeps, leaseOwner } from './saga/engine';
import { SagaRunner } from './saga/service';
import { decodeCursor, getSaga, listSagas, ListFilters, SagaListPage, SagaView } from './saga/queries';
import { checkPurchase, PurchaseInput } from './saga/validate';
import { findStuck, StuckSaga } from './operator/stuck';
import { compensateSaga, CompensateResult, planCompensations } from './operator/compensate';
import { CompensationPlan } from './operator/plan';
import { recover, RecoverReport, Strategy } from './operator/recover';
import { DEFAULT_OLDER_THAN_MS } from './saga/stuck';
import { Actor } from './operator/audit';
import { explainSagas, SagaForensics, SessionInfo, terminateBlocker, Termination } from './operator/forensics';
import { BulkPlan, BulkReport, BulkRunOptions, planBulk, runBulk } from './operator/bulk';
import type { BulkRequest } from './operator/bulk-select';
import { retrySaga, RetryResult } from './operator/retry';
import { whatIf, WhatIfChanges } from './operator/what-if';
import { SagaOutcome, StepName } from './saga/types';
import type { SagaStats } from './stats/summary';

/** The part of a TypeORM DataSource the client uses; typed here so importing the library never loads TypeORM. */
export interface DataSourceLike {
  isInitialized: boolean;
  options: { type: string };
  driver: unknown;
}

export interface SagaClientOptions {
  /** A PostgreSQL URL: the client makes and owns its pool (closed by close()). */
  connectionString?: string;
  /** Or the application's pg Pool: used as is, never ended, its sessions never changed. */
  pool?: Pool;
  /** Or the application's initialised TypeORM DataSource (postgres): its pool is used. */
  dataSource?: DataSourceLike;
  /** Pool size with connectionString (default 10). */
  poolSize?: number;
  /** application_name of the client's own pool. */
  applicationName?: string;
  /** How long a saga is held before other instances may recover it; extended as steps commit (default 30 s). */
  leaseMs?: number;
  /** How long a statement may wait for a row lock before it fails (default 5 s). */
  lockTimeoutMs?: number;
  /** Group execution: concurrent purchases' same step in one statement (default on). */
  grouping?: boolean;
  /** Who acts, in the operator audit (default: user "application" on this host). */
  actor?: Actor;
  /** A Redis URL for the saga cache (the contract of src/cache/saga-cache.ts); the client owns it. */
  redisUrl?: string;
  /** Or a cache made by the caller (the CLI passes its own), which the caller closes. */
  cache?: SagaCache;
  /** Where the recovery loop reports what it could not do (it never throws). */
  onWarning?: (message: string) => void;
}

export interface CompensateRequest {
  reason: string;
  actor?: Actor;
  /** Completed purchases are only refunded when asked. */
  includeCompleted?: boolean;
  /** A saga in flight is taken only once stuck: unmoved this long (default 60 s; src/saga/stuck.ts). */
  olderThanMs?: number;
  /** An audited override for one step a person checked (`--undo STEP`). */
  override?: StepName;
  /** Drills: make the undo of this step fail. */
  failAt?: StepName;
}

export interface RecoverRequest {
  /** Sagas are taken only once unmoved this long (default 60 s; a dead owner on this host at once). */
  olderThanMs?: number;
  strategy?: Strategy;
  /** At most this many (default: every stuck saga). */
  limit?: number;
  reason?: string;
  actor?: Actor;
  /** Exactly these stuck sagas (the ones a person confirmed); default: those stuck now. */
  candidates?: StuckSaga[];
  onProgress?: (done: number) => void;
}

export interface RetryRequest {
  reason: string;
  actor?: Actor;
  /** A saga in flight is resumed only once stuck: unmoved this long (default 60 s). */
  olderThanMs?: number;
}

/** A bulk action: the selection (FILTERS and what the action may take) and how to run it. */
export type BulkRunRequest = Omit<BulkRunOptions, 'actor' | 'olderThanMs'> & { actor?: Actor; olderThanMs?: number };

export interface RecoveryLoop {
  stop(): Promise<void>;
}

export interface SagaClient {
  /** Runs one purchase to its end; resolves to the saga as `saga run --json` prints it. */
  purchase(input: PurchaseInput): Promise<SagaView>;
  /**
   * The same purchase without reading the saga back: its id, final status, error code, and whether
   * it ran now or the id existed with the same request (then nothing ran). The cheapest call.
   */
  purchaseOutcome(input: PurchaseInput): Promise<SagaOutcome>;
  /** The saga as `saga show --json` prints it (through the cache when there is one). */
  getSaga(id: string): Promise<SagaView>;
  /** A page, newest first; pass the previous page's `nextCursor` as `cursor` for the next. */
  listSagas(filter?: Partial<ListFilters> & { cursor?: string }): Promise<SagaListPage>;
  findStuck(opts?: { olderThanMs?: number; limit?: number }): Promise<StuckSaga[]>;
  /** What compensate would do, read without locks and without writing. */
  planCompensation(ids: string[], opts?: Omit<CompensateRequest, 'reason' | 'actor' | 'failAt'>): Promise<CompensationPlan[]>;
  compensate(ids: string[], opts: CompensateRequest): Promise<CompensateResult[]>;
  /** Claims stuck sagas (SKIP LOCKED) and finishes or undoes each, from its records. */
  recover(opts?: RecoverRequest): Promise<RecoverReport>;
  /** Runs recover() every `everyMs` until stop(): every instance of an application may run one. */
  startRecovery(opts: RecoverRequest & { everyMs: number; onRound?: (report: RecoverReport) => void }): RecoveryLoop;
  /** Lock and lease forensics: who holds or waits on each saga's rows, and the process behind its lease (ids not found left out). */
  explainSagas(ids: string[]): Promise<SagaForensics[]>;
  /** Ends a blocker found by explainSagas once it is checked to be still the same one; audited. Never this client's own sessions. */
  terminateBlocker(req: { sagas: string[]; blocker: SessionInfo; reason: string; actor?: Actor }): Promise<Termination>;
  /** The count and totals of a bulk action (sagas, money to refund, stock to restore, top users and items), read only. */
  planBulk(req: Omit<BulkRequest, 'olderThanMs'> & { olderThanMs?: number }): Promise<BulkPlan>;
  /** Runs a bulk action: one transaction per saga, paced, batched, guarded, audited as a whole and per saga. */
  runBulk(req: BulkRunRequest): Promise<BulkReport>;
  /** Redrives sagas after a cause was fixed (see src/operator/retry.ts), one at a time. */
  retry(ids: string[], opts: RetryRequest): Promise<RetryResult[]>;
  /**
   * Runs `work` against a client whose every write happens in one transaction that is then rolled
   * back: the result, and every row it changed (before and after). Nothing is changed.
   */
  whatIf<T>(work: (client: SagaClient) => Promise<T>): Promise<{ result: T; changes: WhatIfChanges }>;
  /** The statistics `sagactl stats --json` prints, for sagas created in [since, until). */
  stats(opts?: { since?: Date; until?: Date; olderThanMs?: number }): Promise<SagaStats>;
  close(): Promise<void>;
  /** The engine's database handle (the CLI's other commands share it). */
  readonly db: Db;
}

/** The connection the client runs on: exactly one of the three ways, checked before anything connects. */
function connect(opts: SagaClientOptions): { db: Db; owned: boolean } {
  const given = (['connectionString', 'pool', 'dataSource'] as const).filter((k) => opts[k] !== undefined);
  if (given.length !== 1) {
    throw new UsageError(given.length === 0
      ? 'createSagaClient needs one of connectionString, pool or dataSource.'
      : `createSagaClient takes one of connectionString, pool or dataSource, not ${given.join(' and ')}.`);
  }
  if (opts.connectionString !== undefined) {
    const url = opts.connectionString;
    if (!/^postgres(ql)?:\/\//.test(url)) throw new UsageError('connectionString must start with postgres:// or postgresql://.');
    return { db: createDb(createPool(url, opts.poolSize ?? 10, opts.applicationName ?? 'sagactl-library', 5000), url), owned: true };
  }
  if (opts.pool !== undefined) {
    if (typeof (opts.pool as { query?: unknown }).query !== 'function') throw new UsageError('pool must be a pg Pool.');
    return { db: createDb(opts.pool), owned: false };
  }
  const ds = opts.dataSource!;
  if (ds.options?.type !== 'postgres') {
    throw new UsageError(`dataSource must be a PostgreSQL DataSource, got type "${ds.options?.type}".`);
  }
  if (!ds.isInitialized) throw new UsageError('dataSource is not initialised: await dataSource.initialize() first.');
  const pool = (ds.driver as { master?: Pool }).master;
  if (!pool) throw new UsageError('dataSource has no connection pool.');
  return { db: createDb(pool), owned: false };
}

/** The library's front door: the saga engine sagactl administers, on the application's database. */
export function createSagaClient(opts: SagaClientOptions): SagaClient {
  const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
  if (!Number.isInteger(leaseMs) || leaseMs < 1000 || leaseMs > 86_400_000) throw new UsageError('leaseMs must be from 1000 to 86400000.');
  if (opts.redisUrl !== undefined && opts.cache !== undefined) throw new UsageError('Give redisUrl or cache, not both.');
  if (opts.redisUrl !== undefined) validateRedisUrl(opts.redisUrl);
  const lockTimeoutMs = opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  if (!Number.isInteger(lockTimeoutMs) || lockTimeoutMs < 1 || lockTimeoutMs > 3_600_000) throw new UsageError('lockTimeoutMs must be from 1 to 3600000.');
  // Every option is checked before the pool is made: a refused client leaves nothing open.
  const { db, owned } = connect(opts);
  const ownCache = opts.redisUrl === undefined ? undefined : redisCache(opts.redisUrl, opts.onWarning);
  return clientOver(db, { ...opts, leaseMs, lockTimeoutMs, cache: opts.cache ?? ownCache ?? NO_CACHE }, async () => {
    await ownCache?.close();
    if (owned) await db.pool.end();
  });
}

/**
 * The client over a database handle (the pool's, or --what-if's one transaction); `release` frees
 * what it owns. `serial`: one connection only (--what-if's transaction): bulk runs one saga at a time.
 */
function clientOver(db: Db, opts: SagaClientOptions & { leaseMs: number; lockTimeoutMs: number; cache: SagaCache; serial?: boolean },
  release: () => Promise<void>): SagaClient {
  const { leaseMs, lockTimeoutMs, cache } = opts;
  const defaultActor = opts.actor ?? { user: 'application', host: os.hostname() };
  const deps: EngineDeps = { db, owner: leaseOwner(), leaseMs, lockTimeoutMs, grouping: opts.grouping ?? true };
  // The hot path never waits for the cache: a saga is cacheable only once settled, and this is it settling.
  const runner = new SagaRunner(deps, (id) => void cache.invalidate([id]));
  const loops = new Set<RecoveryLoop>();
  const warn = opts.onWarning ?? (() => undefined);

  const client: SagaClient = {
    db,
    // async: a bad input or cursor is a rejected promise, like every other failure, never a synchronous throw.
    purchaseOutcome: async (input) => runner.run(checkPurchase(input)),
    purchase: async (input) => getSaga(db, (await runner.run(checkPurchase(input))).transactionId),
    getSaga: (id) => readThrough(cache, id, (txid) => getSaga(db, txid)),
    listSagas: async ({ cursor, ...filter } = {}) => listSagas(db, { limit: 50, ...filter, ...(cursor === undefined ? {} : { after: decodeCursor(cursor) }) }),
    findStuck: (o = {}) => findStuck(db, { olderThanMs: o.olderThanMs ?? DEFAULT_OLDER_THAN_MS, limit: o.limit }),
    planCompensation: (ids, o = {}) => planCompensations(runner.engine, ids,
      { includeCompleted: Boolean(o.includeCompleted), olderThanMs: o.olderThanMs ?? DEFAULT_OLDER_THAN_MS, override: o.override }),
    async compensate(ids, o) {
      const results: CompensateResult[] = [];
      for (const id of ids) {
        results.push(await compensateSaga(runner.engine, id, { reason: o.reason, actor: o.actor ?? defaultActor,
          includeCompleted: Boolean(o.includeCompleted), olderThanMs: o.olderThanMs ?? DEFAULT_OLDER_THAN_MS,
          override: o.override, failAt: o.failAt }));
      }
      await cache.invalidate(ids);
      return results;
    },
    async recover(o = {}) {
      const report = await recover(runner, { olderThanMs: o.olderThanMs ?? DEFAULT_OLDER_THAN_MS, strategy: o.strategy, limit: o.limit,
        reason: o.reason ?? 'recovery', actor: o.actor ?? defaultActor, candidates: o.candidates, onProgress: o.onProgress });
      await cache.invalidate(report.results.map((r) => r.transactionId));
      return report;
    },
    // Forensics (src/operator/forensics.ts): this client's own backends are never reported nor ended.
    explainSagas: async (ids) => explainSagas(db, ids, backendPids(db.pool)),
    terminateBlocker: async ({ actor, ...req }) => terminateBlocker(db, actor ?? defaultActor, { ...req, ownPids: backendPids(db.pool) }),
    planBulk: (req) => planBulk(db, { ...req, olderThanMs: req.olderThanMs ?? DEFAULT_OLDER_THAN_MS }),
    runBulk: (req) => runBulk(runner, { ...req, actor: req.actor ?? defaultActor, olderThanMs: req.olderThanMs ?? DEFAULT_OLDER_THAN_MS,
      concurrency: opts.serial ? 1 : req.concurrency, onBatch: async (ids) => { await cache.invalidate(ids); await req.onBatch?.(ids); } }),
    async retry(ids, o) {
      const results: RetryResult[] = [];
      for (const id of ids) {
        results.push(await retrySaga(runner, id, { reason: o.reason, actor: o.actor ?? defaultActor, olderThanMs: o.olderThanMs ?? DEFAULT_OLDER_THAN_MS }));
      }
      await cache.invalidate(ids);
      return results;
    },
    // One connection, one transaction: no grouping (nothing to fold) and no cache (nothing is kept).
    whatIf: (work) => whatIf(db, (one) => work(clientOver(one, { ...opts, grouping: false, cache: NO_CACHE, serial: true }, async () => undefined))),
    async stats(o = {}) {
      // Loaded on first use: an application that never asks for statistics never loads them.
      const { getStats } = require('./stats/read') as typeof import('./stats/read');
      return getStats(db, o);
    },
    startRecovery(o) {
      if (!Number.isInteger(o.everyMs) || o.everyMs < 100) throw new UsageError('everyMs must be a whole number of milliseconds, at least 100.');
      const stopping = new AbortController();
      const running = (async () => {
        while (!stopping.signal.aborted) {
          try {
            const report = await client.recover(o);
            o.onRound?.(report);
          } catch (err) {
            warn(`recovery round failed: ${(err as Error).message}`);
          }
          await sleep(o.everyMs, stopping.signal);
        }
      })();
      const loop = { stop: async () => { stopping.abort(); await running; loops.delete(loop); } };
      loops.add(loop);
      return loop;
    },
    async close() {
      await Promise.all([...loops].map((l) => l.stop()));
      await release();
    },
  };
  return client;
}

function redisCache(url: string, onWarning?: (message: string) => void): SagaCache {
  // Loaded only when asked for, so an application without Redis never loads the client.
  const { createRedisCache } = require('./cache/redis-cache') as typeof import('./cache/redis-cache');
  return createRedisCache({ url, connectTimeoutMs: 500, commandTimeoutMs: 500,
    warn: onWarning ?? (() => undefined) });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}
