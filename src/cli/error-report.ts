import { CommanderError } from 'commander';
import { AppError, ErrorCode, EXIT, OutcomeExit } from '../errors';
import { databaseError, PG, pgCode } from '../db/pg-errors';
import { Io } from './io';

/** What `main` says about a failure: to people as text, to scripts as `{"error": {...}}`, one line. */
export interface ErrorReport {
  code: ErrorCode;
  exitCode: number;
  message: string;
  hint: string | null;
  /** Already shown (commander's own usage message, a command's printed outcome): no human text again. */
  shown: boolean;
  internal: boolean;
  stack?: string;
}

/**
 * Exit 4 covers four things a script handles differently: a server that is not there (retry
 * later), a password (fix the secret), a privilege (fix the role), a timeout (retry, or raise it).
 * databaseError gives the exit code; the SQLSTATE tells which of the four.
 */
const EXIT4_CODES: Record<string, ErrorCode> = {
  [PG.lockNotAvailable]: 'TIMEOUT',
  [PG.queryCanceled]: 'TIMEOUT',
  [PG.insufficientPrivilege]: 'PERMISSION',
  [PG.readOnlyTransaction]: 'PERMISSION',
  [PG.invalidPassword]: 'AUTH',
  [PG.invalidAuthorization]: 'AUTH',
};

/** A missing schema and an object that already exists are states to fix, not things not found. */
const EXIT3_CODES: Record<string, ErrorCode> = {
  [PG.undefinedTable]: 'STATE',
  [PG.duplicateTable]: 'STATE',
  [PG.duplicateObject]: 'STATE',
};

export function reportOf(err: unknown): ErrorReport {
  if (err instanceof OutcomeExit) return { code: err.code, exitCode: err.exitCode, message: err.message, hint: null, shown: true, internal: false };
  if (err instanceof CommanderError) return commanderReport(err);
  const typed = databaseError(err) ?? err;
  if (typed instanceof AppError) {
    const sqlstate = typed === err ? undefined : pgCode(err);
    const refined = sqlstate === undefined ? undefined : typed.exitCode === EXIT.unreachable ? EXIT4_CODES[sqlstate] : EXIT3_CODES[sqlstate];
    return { code: refined ?? typed.code, exitCode: typed.exitCode, message: typed.message, hint: typed.hint ?? null,
      shown: false, internal: false, stack: typed.stack };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'INTERNAL', exitCode: EXIT.internal, message, hint: 'Run again with --debug for the stack trace.', shown: false,
    internal: true, stack: err instanceof Error ? err.stack : undefined };
}

/** Commander printed its message already; help and version are successes. */
function commanderReport(err: CommanderError): ErrorReport {
  if (err.exitCode === 0) return { code: 'USAGE', exitCode: EXIT.ok, message: '', hint: null, shown: true, internal: false };
  const message = err.code === 'commander.help' ? 'a subcommand is needed (see the help above)' : err.message.replace(/^error: /, '');
  return { code: 'USAGE', exitCode: EXIT.usage, message, hint: 'Add --help for usage.', shown: true, internal: false };
}

/**
 * Writes the report on stderr and returns its exit code. With --json the last line of stderr is
 * the error object, on one line, and nothing else describes the error (a script reads one thing).
 */
export function writeError(report: ErrorReport, io: Io, mode: { json: boolean; debug: boolean }): number {
  if (report.exitCode === EXIT.ok) return EXIT.ok;
  if (mode.debug && report.stack) io.stderr.write(`${report.stack}\n`);
  if (mode.json) {
    const { code, exitCode, message, hint } = report;
    io.stderr.write(`${JSON.stringify({ error: { code, exitCode, message, hint } })}\n`);
  } else if (!report.shown) {
    io.stderr.write(`${report.internal ? 'internal error' : 'error'}: ${report.message}\n`);
    if (report.hint && !(report.internal && mode.debug)) io.stderr.write(`${report.hint}\n`);
  }
  return report.exitCode;
}

/** --json anywhere, or `--format json`: the caller is a script and reads errors as JSON. */
export function wantsJson(argv: string[]): boolean {
  return argv.some((arg, i) => arg === '--json' || arg === '--format=json' || (arg === '--format' && argv[i + 1] === 'json'));
}
