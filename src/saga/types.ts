/**
 * The saga's vocabulary. Every list here is mirrored by a CHECK constraint in the migrations,
 * so a value the code does not know can never reach the table.
 */
export const SAGA_STATUS = {
  pending: 'pending',
  inProgress: 'in_progress',
  completed: 'completed',
  failed: 'failed',
  compensating: 'compensating',
  compensated: 'compensated',
  compensationFailed: 'compensation_failed',
} as const;
export type SagaStatus = (typeof SAGA_STATUS)[keyof typeof SAGA_STATUS];

/** Statuses a saga never leaves on its own (compensation_failed waits for an operator). */
export const FINAL_STATUSES: readonly SagaStatus[] = ['completed', 'failed', 'compensated', 'compensation_failed'];

export const MODES = ['orchestration', 'choreography'] as const;
export type SagaMode = (typeof MODES)[number];

export const STEPS = ['validate_user', 'reserve_inventory', 'log_transaction', 'send_notification'] as const;
export type StepName = (typeof STEPS)[number];

export const STEP_KIND = { forward: 'forward', compensation: 'compensation' } as const;
export type StepKind = (typeof STEP_KIND)[keyof typeof STEP_KIND];

export const STEP_STATUS = { succeeded: 'succeeded', failed: 'failed' } as const;

/** The choreography outbox's event types: a step's trigger, or the trigger of an undo. */
export const EVENT_TYPES = [
  ...STEPS.slice(1).map((s) => `${s}.run` as const),
  ...(['validate_user', 'reserve_inventory', 'log_transaction'] as const).map((s) => `${s}.compensate` as const),
] as const;

/** What an operator did (operator_audit.action), and what came of it (outcome: these or a saga status). */
export const AUDIT_ACTIONS = [
  'compensate', 'recover', 'retry', 'bulk_compensate', 'bulk_recover', 'bulk_retry', 'terminate_backend', 'import', 'prune',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];
export const AUDIT_OUTCOMES = [
  'claimed', 'refused', 'busy', ...Object.values(SAGA_STATUS), 'done', 'interrupted', 'guard_stopped', 'terminated', 'resent',
] as const;

/** Where a ledger movement comes from (ledger.source): a saga's step, or a declared non-saga source. */
export const LEDGER_SOURCES = ['opening', 'seed', 'saga', 'adjustment', 'closing', 'unattributed'] as const;

export const ERROR_MESSAGES = {
  USER_NOT_FOUND: 'User not found',
  USER_NOT_ACTIVE: 'User not active',
  PURCHASE_LIMIT_EXCEEDED: 'Purchase limit exceeded',
  INSUFFICIENT_BALANCE: 'Insufficient balance',
  ITEM_NOT_FOUND: 'Item not found',
  ITEM_NOT_AVAILABLE: 'Item not available',
  INSUFFICIENT_STOCK: 'Insufficient stock',
  LOG_FAILED: 'Transaction log could not be written',
  NOTIFICATION_FAILED: 'Notification could not be delivered after retries',
  COMPENSATION_FAILED: 'A compensation could not be applied',
  INJECTED_FAILURE: 'Failure injected with --fail-at',
  RECOVERED_BY_COMPENSATION: 'Compensated by saga recover',
  OPERATOR_COMPENSATION: 'Compensated by an operator',
} as const;
export type ErrorCode = keyof typeof ERROR_MESSAGES;

export interface PurchaseRequest {
  userId: string;
  itemId: string;
  quantity: number;
  mode: SagaMode;
  /** Idempotency key; a fresh UUID when absent. */
  transactionId?: string;
  /** Inject a failure at this step (tests and fixtures make compensated sagas this way). */
  failAt?: StepName;
}

export interface SagaOutcome {
  transactionId: string;
  status: SagaStatus;
  errorCode: string | null;
  /** False when the id existed already and nothing was executed. */
  executed: boolean;
}
