import { CommanderError } from 'commander';
import { AppError, ErrorCode, EXIT, OutcomeExit } from '../errors';
import { databaseError } from '../db/pg-errors';
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

export function reportOf(err: unknown): ErrorReport {
  if (err instanceof OutcomeExit) return { code: err.code, exitCode: err.exitCode, message: err.message, hint: null, shown: true, internal: false };
  if (err instanceof CommanderError) return commanderReport(err);
  // databaseError gives a PostgreSQL error its exit code and its code (which kind of exit 4 or 3).
  const typed = databaseError(err) ?? err;
  if (typed instanceof AppError) {
    return { code: typed.code, exitCode: typed.exitCode, message: typed.message, hint: typed.hint ?? null,
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
