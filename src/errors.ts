/** Exit codes are part of the contract (README, "Exit codes"). */
export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2,
  notFound: 3,
  unreachable: 4,
  compensationFailed: 5,
  checkFailed: 6,
  sagaNotCompleted: 7,
  /** 128 + the signal's number, as a shell reports a process ended by it. */
  interrupted: 130,
  terminated: 143,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * The `code` of the JSON error object (`{"error": {"code", "exitCode", "message", "hint"}}`): a
 * script tells "not found" from "illegal state", or "unreachable" from "timed out", by it. Each
 * code belongs to one exit code (README, "Exit codes"); fields are added, never renamed.
 */
export const ERROR_CODES = {
  INTERNAL: EXIT.internal,
  USAGE: EXIT.usage,
  NOT_FOUND: EXIT.notFound,
  STATE: EXIT.notFound,
  UNREACHABLE: EXIT.unreachable,
  AUTH: EXIT.unreachable,
  PERMISSION: EXIT.unreachable,
  TIMEOUT: EXIT.unreachable,
  COMPENSATION_FAILED: EXIT.compensationFailed,
  CHECK_FAILED: EXIT.checkFailed,
  SAGA_NOT_COMPLETED: EXIT.sagaNotCompleted,
  INTERRUPTED: EXIT.interrupted,
  TERMINATED: EXIT.terminated,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The code an error of this exit code has when it names none: the first of the table. */
export function defaultErrorCode(exitCode: number): ErrorCode {
  const found = (Object.keys(ERROR_CODES) as ErrorCode[]).find((code) => ERROR_CODES[code] === exitCode);
  return found ?? 'INTERNAL';
}

/** Every error the core throws on purpose; `main` turns it into its exit code. */
export class AppError extends Error {
  /** Set by the constructor from the exit code unless given; databaseError refines it from the SQLSTATE. */
  code: ErrorCode;

  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly hint?: string,
    code?: ErrorCode,
  ) {
    super(message);
    this.name = new.target.name;
    this.code = code ?? defaultErrorCode(exitCode);
  }
}

export class UsageError extends AppError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.usage, hint, 'USAGE');
  }
}

export class NotFoundError extends AppError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.notFound, hint, 'NOT_FOUND');
  }
}

/** An illegal state change (compensating a compensated saga, reverting past zero). */
export class StateError extends AppError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.notFound, hint, 'STATE');
  }
}

/** Exit 4; `code` tells a script which kind: UNREACHABLE (the default), AUTH, PERMISSION or TIMEOUT. */
export class UnreachableError extends AppError {
  constructor(message: string, hint?: string, code: 'UNREACHABLE' | 'AUTH' | 'PERMISSION' | 'TIMEOUT' = 'UNREACHABLE') {
    super(message, EXIT.unreachable, hint, code);
  }
}

export class CheckFailedError extends AppError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.checkFailed, hint, 'CHECK_FAILED');
  }
}

export type Interruption = 'SIGINT' | 'SIGTERM';

/**
 * Ctrl-C (SIGINT, exit 130) or SIGTERM (143), at a prompt or during work. The message says what
 * was left: nothing changed, or what was done and how to finish it.
 */
export class InterruptedError extends AppError {
  constructor(readonly signal: Interruption, message = 'aborted; nothing was changed.', hint?: string) {
    const sigterm = signal === 'SIGTERM';
    super(message, sigterm ? EXIT.terminated : EXIT.interrupted, hint, sigterm ? 'TERMINATED' : 'INTERRUPTED');
  }
}

/**
 * A command that finished its work but whose outcome carries a non-zero exit
 * code (a saga that compensated, a check that failed): the result is still printed. `message`
 * is the one-line summary the JSON error object carries (people already read the result).
 */
export class OutcomeExit extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message?: string,
    readonly code: ErrorCode = defaultErrorCode(exitCode),
  ) {
    super(message ?? OUTCOME_MESSAGES[exitCode] ?? `exit ${exitCode}`);
  }
}

const OUTCOME_MESSAGES: Partial<Record<ExitCode, string>> = {
  [EXIT.internal]: 'the work did not finish (see the output)',
  [EXIT.notFound]: 'some were refused or not found (see the output)',
  [EXIT.compensationFailed]: 'a compensation failed (see the output)',
  [EXIT.checkFailed]: 'a check failed (see the output)',
  [EXIT.sagaNotCompleted]: 'the saga ended without completing (see the output)',
};
