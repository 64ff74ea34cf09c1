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
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Every error the core throws on purpose; `main` turns it into its exit code. */
export class AppError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly hint?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class UsageError extends AppError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.usage, hint);
  }
}

export class NotFoundError extends AppError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.notFound, hint);
  }
}

/** An illegal state change (compensating a compensated saga, reverting past zero). */
export class StateError extends AppError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.notFound, hint);
  }
}

export class UnreachableError extends AppError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.unreachable, hint);
  }
}

export class CheckFailedError extends AppError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.checkFailed, hint);
  }
}

/**
 * A command that finished its work but whose outcome carries a non-zero exit
 * code (a saga that compensated, a check that failed): the result is still printed.
 */
export class OutcomeExit extends Error {
  constructor(readonly exitCode: ExitCode) {
    super(`exit ${exitCode}`);
  }
}

/**
 * The command was stopped by SIGINT (exit 130) or SIGTERM (exit 143), as a shell reports a
 * signal; its queries were cancelled on the server, and the message says what was left.
 */
export class InterruptedError extends AppError {
  constructor(readonly signal: 'SIGINT' | 'SIGTERM', message = `Interrupted by ${signal}.`, hint?: string) {
    super(message, (signal === 'SIGINT' ? 130 : 143) as ExitCode, hint);
  }
}
