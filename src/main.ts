import { CommanderError } from 'commander';
import { AppError, EXIT, OutcomeExit } from './errors';
import { databaseError } from './db/pg-errors';
import { buildProgram } from './cli/program';
import { Io, processIo } from './cli/io';

/** argv -> exit code. The only place errors become exit codes. */
export async function main(argv: string[], io: Io): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    return exitCodeFor(err, io, argv.includes('--debug'));
  }
}

function exitCodeFor(err: unknown, io: Io, debug: boolean): number {
  if (err instanceof OutcomeExit) return err.exitCode;
  if (err instanceof CommanderError) {
    // Commander already printed its message; help and version are successes.
    return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  err = databaseError(err) ?? err;
  if (err instanceof AppError) {
    io.stderr.write(`error: ${err.message}\n`);
    if (err.hint) io.stderr.write(`${err.hint}\n`);
    if (debug && err.stack) io.stderr.write(`${err.stack}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  io.stderr.write(`internal error: ${message}\n`);
  io.stderr.write(debug && err instanceof Error ? `${err.stack}\n` : 'Run again with --debug for the stack trace.\n');
  return EXIT.internal;
}

export function run(): void {
  // `sagactl ... | head` closes the pipe early: that is the reader's choice, not an error.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? EXIT.ok : EXIT.internal));
  }
  main(process.argv.slice(2), processIo()).then(
    (code) => exitAfterFlush(code),
    (err) => {
      process.stderr.write(`internal error: ${err}\n`);
      exitAfterFlush(EXIT.internal);
    },
  );
}

/**
 * process.exit() does not wait for a piped stdout to drain: past the pipe buffer (64 KiB) the
 * rest would be lost with exit 0. An empty write's callback runs once everything queued before it
 * has reached the OS, so exit only then.
 */
export function exitAfterFlush(code: number, streams: NodeJS.WritableStream[] = [process.stdout, process.stderr]): void {
  let pending = streams.length;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  for (const stream of streams) stream.write('', done);
}
