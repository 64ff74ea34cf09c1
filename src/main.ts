import { EXIT, InterruptedError, Interruption } from './errors';
import { buildProgram } from './cli/program';
import { Io, processIo } from './cli/io';
import { reportOf, wantsJson, writeError } from './cli/error-report';
import { interrupted, stoppedWork } from './cli/progress';

/** argv -> exit code. The only place errors become exit codes. */
export async function main(argv: string[], io: Io): Promise<number> {
  const mode = { json: wantsJson(argv), debug: argv.includes('--debug') };
  const program = buildProgram(io, mode);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    return writeError(reportOf(asInterruption(err, io)), io, mode);
  }
}

/**
 * After Ctrl-C whatever the command ends with (a cancelled query, a closed connection) is the
 * interruption: exit 130, saying how far the work got. An interruption the command described
 * itself (withApp: what was cancelled, what was left) gets how far its long work got added.
 */
function asInterruption(err: unknown, io: Io): unknown {
  if (!(err instanceof InterruptedError)) return io.signal?.aborted ? interrupted(io, io.signal.reason as Interruption) : err;
  const progress = stoppedWork(io);
  if (!progress || err.message.includes(progress.message)) return err;
  const hints = [...new Set([err.hint, progress.hint].filter(Boolean))];
  return new InterruptedError(err.signal, `${err.message} ${progress.message}`, hints.join('\n') || undefined);
}

/**
 * After the first Ctrl-C the command has this long to stop at a safe point (and withApp to cancel its
 * statements, which it waits up to 5 s for) before the process ends anyway.
 */
export const GRACE_MS = 10_000;

export function run(): void {
  // `sagactl ... | head` closes the pipe early: that is the reader's choice, not an error.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? EXIT.ok : EXIT.internal));
  }
  const argv = process.argv.slice(2);
  const mode = { json: wantsJson(argv), debug: argv.includes('--debug') };
  const finish = onceOnly((code: number) => exitAfterFlush(code));
  let io: Io | undefined;
  const signal = handleInterrupts(process, (interruption) => finish(writeError(reportOf(interrupted(io!, interruption)), io!, mode)));
  io = processIo(signal);
  main(argv, io).then(finish, (err) => {
    process.stderr.write(`internal error: ${err}\n`);
    finish(EXIT.internal);
  });
}

/**
 * The first SIGINT or SIGTERM aborts the returned signal: the work stops at its next safe point
 * (progress ticks throw, watches end, prompts close). A second signal, or the grace period running
 * out, calls `stopNow`: the process ends, and the server rolls back whatever had not committed.
 */
export function handleInterrupts(source: Pick<NodeJS.Process, 'on'>, stopNow: (signal: Interruption) => void, graceMs = GRACE_MS): AbortSignal {
  const controller = new AbortController();
  const onSignal = (signal: Interruption) => {
    if (controller.signal.aborted) return stopNow(signal);
    controller.abort(signal);
    setTimeout(() => stopNow(signal), graceMs).unref();
  };
  source.on('SIGINT', () => onSignal('SIGINT')).on('SIGTERM', () => onSignal('SIGTERM'));
  return controller.signal;
}

export function onceOnly<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
  let called = false;
  return (...args) => {
    if (called) return;
    called = true;
    fn(...args);
  };
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
