/**
 * sagactl as a library: the engine the purchase service runs on, and the one the CLI administers.
 * Importing it costs nothing: no connection, no TypeORM, no global state (no type parsers, no
 * process.env, no console). TypeORM's entity classes load on first access of `entities` (or of
 * one class), and a client connects on its first query.
 */
import type * as Entities from './db/entities';

export { createSagaClient } from './client';
export { DEFAULT_OLDER_THAN_MS } from './saga/stuck';
export type {
  SagaClient, SagaClientOptions, DataSourceLike, CompensateRequest, RecoverRequest, RecoveryLoop, RetryRequest, BulkRunRequest,
} from './client';
export { runMigrations } from './migrate/run-migrations';
export type { RunMigrationsOptions } from './migrate/run-migrations';
export type { PurchaseInput } from './saga/validate';
/** The purchase input checks purchase() applies (a UsageError names what is wrong), for an application's own gates. */
export { checkPurchase, MAX_QUANTITY } from './saga/validate';
export type { SagaView, SagaStep, SagaListPage, ListFilters } from './saga/queries';
export type { SagaOutcome, SagaStatus, SagaMode, StepName, ErrorCode } from './saga/types';
export type { StuckSaga } from './operator/stuck';
export type { SagaForensics, SessionInfo, LeaseInfo, Termination } from './operator/forensics';
export type { CompensateResult } from './operator/compensate';
export type { CompensationPlan, PlannedUndo } from './operator/plan';
export type { RecoverResult, RecoverReport, Strategy } from './operator/recover';
export type { Actor } from './operator/audit';
export type { BulkPlan, BulkReport, BulkSagaResult } from './operator/bulk';
export type { BulkAction, BulkRequest } from './operator/bulk-select';
export type { GuardViolation } from './operator/guard';
export type { RetryResult, RetryAction } from './operator/retry';
export type { WhatIfChanges } from './operator/what-if';
export type { SagaFilter } from './saga/filter';
export type { SagaStats } from './stats/summary';
export {
  SAGA_STATUS, FINAL_STATUSES, MODES, STEPS, STEP_KIND, STEP_STATUS, ERROR_MESSAGES,
} from './saga/types';
export {
  SAGA_CACHE, TOMBSTONE, sagaCacheKey, encodeSagaView, decodeSagaView, isCacheable, NO_CACHE,
} from './cache/saga-cache';
export type { SagaCache } from './cache/saga-cache';
// Export, import, retention and the audit viewer: functions over a client's `db` (client.db), as the CLI calls them.
export { exportSagas } from './archive/export';
export type { ExportOptions, ExportResult, ExportFormat } from './archive/export';
export { importSagas, ImportLineError } from './archive/import';
export type { ImportOptions, ImportResult } from './archive/import';
export { prune, planPrune, PRUNABLE } from './archive/prune';
export type { PruneOptions, PrunePlan, PruneResult } from './archive/prune';
export { openFileSink } from './archive/file-sink';
export { listAudit } from './archive/list-audit';
export type { AuditQuery, AuditPage, AuditEntry } from './archive/list-audit';
export { ARCHIVE_FORMAT, ARCHIVE_VERSION } from './archive/format';
export {
  AppError, UsageError, NotFoundError, StateError, UnreachableError, CheckFailedError, EXIT,
} from './errors';

/** The TypeORM entity classes of every table sagactl's migrations create, exact to the column. */
export declare const entities: Function[];
export declare const User: typeof Entities.User;
export declare const Item: typeof Entities.Item;
export declare const SagaState: typeof Entities.SagaState;
export declare const SagaStepResult: typeof Entities.SagaStepResult;
export declare const TransactionLog: typeof Entities.TransactionLog;
export declare const Notification: typeof Entities.Notification;
export declare const SagaEvent: typeof Entities.SagaEvent;
export declare const OperatorAudit: typeof Entities.OperatorAudit;
export type User = Entities.User;
export type Item = Entities.Item;
export type SagaState = Entities.SagaState;
export type SagaStepResult = Entities.SagaStepResult;
export type TransactionLog = Entities.TransactionLog;
export type Notification = Entities.Notification;
export type SagaEvent = Entities.SagaEvent;
export type OperatorAudit = Entities.OperatorAudit;

// Getters, so TypeORM (and reflect-metadata) load only when an application asks for an entity.
const loadEntities = () => require('./db/entities') as typeof Entities;
Object.defineProperty(exports, 'entities', { enumerable: true, get: () => loadEntities().ENTITIES });
for (const name of ['User', 'Item', 'SagaState', 'SagaStepResult', 'TransactionLog', 'Notification', 'SagaEvent', 'OperatorAudit'] as const) {
  Object.defineProperty(exports, name, { enumerable: true, get: () => loadEntities()[name] });
}
