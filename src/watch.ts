import { setTimeout as sleep } from 'node:timers/promises';

export interface WatchOptions {
  intervalMs: number;
  /** Ends the loop (Ctrl-C in the CLI); a sleep in progress ends at once. */
  signal?: AbortSignal;
  /** Stop after this many rounds (`--iterations`, and tests); without it, until aborted. */
  maxIterations?: number;
}

/**
 * Runs `round` now and then every intervalMs, start to start, so a slow round does not drift the
 * schedule, until aborted or maxIterations. Returns how many rounds ran. An error in a round ends
 * the loop with that error: a watch that hid a failing database would mislead.
 */
export async function runWatch(opts: WatchOptions, round: (iteration: number) => Promise<void>): Promise<number> {
  let done = 0;
  while (!opts.signal?.aborted && (opts.maxIterations === undefined || done < opts.maxIterations)) {
    const started = Date.now();
    await round(done);
    done++;
    if (opts.maxIterations !== undefined && done >= opts.maxIterations) break;
    try {
      await sleep(Math.max(0, opts.intervalMs - (Date.now() - started)), undefined, { signal: opts.signal });
    } catch {
      break; // aborted while sleeping
    }
  }
  return done;
}
