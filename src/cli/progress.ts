import { InterruptedError, Interruption } from '../errors';
import { Io } from './io';
import { count, shortDuration } from './format';

/**
 * The one progress display of every long piece of work (seeding, bulk compensation, recover,
 * saga load, the first statistics rollup), on stderr so data on stdout stays clean.
 *
 * On a terminal, a bar redrawn in place by cli-progress (it throttles redraws, keeps the line
 * within the terminal's width so it never wraps into stray characters, and restores the cursor);
 * without one, a plain line every few seconds, for CI logs. Work shorter than a moment (an interval
 * without a terminal) shows nothing at all. Rate and ETA come from the whole run so far, so they do not jump about.
 *
 * A tick after Ctrl-C throws InterruptedError saying how far the work got and how to finish it:
 * callers tick between units of work, so the unit in progress is rolled back or completed whole.
 * Work stopped that way stays known (stoppedWork), for main to add to withApp's own report.
 */
export interface ProgressOptions {
  /** What is counted, plural: "rows", "sagas". */
  unit: string;
  /** What the work is: "seeding users". */
  label: string;
  total: number;
  /** After an interruption: how to finish the work (the hint of the error). */
  resume?: string;
  /**
   * False when the work ends by itself once interrupted (saga load: withApp cancels its statements,
   * every purchase left settles as failed, and the summary is still printed): ticks then never throw.
   */
  stopsOnInterrupt?: boolean;
}

export interface Progress {
  /** `done` so far; `total` when the work turned out larger than announced. */
  tick(done: number, total?: number): void;
  /** Ends the display (idempotent); always called, also when the work failed. */
  stop(): void;
}

export interface ProgressSettings {
  quiet: boolean;
  /** Between two lines without a terminal (default 5 s). */
  intervalMs?: number;
}

const INTERVAL_MS = 5000;
const TTY_DELAY_MS = 300;
const active = new WeakMap<Io, State>();

export interface State {
  opts: ProgressOptions;
  done: number;
  total: number;
  started: number;
  /** When every unit was handed over: the rest (a COPY's commit, an ANALYZE) is finishing, at a rate no longer moving. */
  handedOver?: number;
}

export function createProgress(io: Io, opts: ProgressOptions, settings: ProgressSettings): Progress {
  const state: State = { opts, done: 0, total: opts.total, started: Date.now() };
  active.set(io, state);
  const display = settings.quiet ? undefined : createDisplay(io, state, settings.intervalMs ?? INTERVAL_MS);
  return {
    tick(done, total) {
      state.done = done;
      if (total !== undefined) state.total = total;
      state.handedOver = state.total > 0 && done >= state.total ? state.handedOver ?? Date.now() : undefined;
      if (io.signal?.aborted && opts.stopsOnInterrupt !== false) throw interrupted(io, io.signal.reason as Interruption);
      display?.update();
    },
    stop() {
      display?.stop();
      // Work stopped by Ctrl-C stays known, so the interruption can say how far it got.
      if (active.get(io) === state && !io.signal?.aborted) active.delete(io);
    },
  };
}

/** How far the long work stopped by an interruption got ("Stopped after 40 of 200 sagas (recovering).") and how to finish it. */
export function stoppedWork(io: Io): { message: string; hint?: string } | undefined {
  const work = active.get(io);
  if (!work) return undefined;
  return { message: `Stopped after ${count(work.done)} of ${count(work.total)} ${work.opts.unit} (${work.opts.label}).`, hint: work.opts.resume };
}

/** The error for an interruption: where the work in progress (if any) got to, and how to finish it. */
export function interrupted(io: Io, signal: Interruption): InterruptedError {
  const work = stoppedWork(io);
  if (!work) return new InterruptedError(signal, `Interrupted by ${signal}; the work in flight was stopped, and what had not committed was rolled back.`);
  return new InterruptedError(signal, `Interrupted by ${signal}. ${work.message}`, work.hint);
}

function createDisplay(io: Io, state: State, intervalMs: number) {
  const tty = io.stderrIsTTY;
  // Loaded only when a bar is drawn: --help and short commands never load it.
  const { SingleBar } = require('cli-progress') as typeof import('cli-progress');
  const bar = new SingleBar({
    stream: { isTTY: tty, columns: tty ? io.stdoutColumns : undefined, write: (s: string) => io.stderr.write(s) } as never,
    format: () => describe(state, tty),
    noTTYOutput: !tty,
    notTTYSchedule: intervalMs,
    fps: 10,
    hideCursor: tty,
    clearOnComplete: true,
    gracefulExit: false,
  });
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    bar.start(state.total, state.done);
  };
  // Work shorter than a moment (a terminal) or an interval (a log) shows nothing at all.
  const delay = tty ? TTY_DELAY_MS : intervalMs;
  const timer = setTimeout(start, delay);
  timer.unref();
  return {
    update() {
      if (!started && Date.now() - state.started >= delay) start();
      if (started) bar.update(state.done);
      if (started && bar.getTotal() !== state.total) bar.setTotal(state.total);
    },
    stop() {
      clearTimeout(timer);
      if (started) bar.stop();
      started = false;
    },
  };
}

/**
 * "seeding [██████░░░░] 60% 600,000/1,000,000 rows, 152,000 rows/s, ETA 3s" (no bar without a
 * terminal); once every unit is handed over, "100% ... rows/s, finishing" while the last statement
 * (a commit, an ANALYZE) runs, the rate frozen at what it was.
 */
export function describe(state: Pick<State, 'opts' | 'done' | 'total' | 'started' | 'handedOver'>, withBar: boolean, now = Date.now()): string {
  const { opts, done, total } = state;
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  const rate = done / Math.max(0.001, ((state.handedOver ?? now) - state.started) / 1000);
  const filled = Math.round(ratio * BAR_WIDTH);
  const bar = withBar ? ` [${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}]` : ':';
  const tail = state.handedOver !== undefined ? ', finishing' : rate > 0 && done < total ? `, ETA ${shortDuration((total - done) / rate)}` : '';
  return `${opts.label}${bar} ${Math.floor(ratio * 100)}% ${count(done)}/${count(total)} ${opts.unit}, ${count(Math.round(rate))} ${opts.unit}/s${tail}`;
}

const BAR_WIDTH = 20;
