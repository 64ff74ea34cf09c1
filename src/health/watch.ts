import { setTimeout as sleep } from 'node:timers/promises';

export interface WatchOptions {
  intervalMs: number;
  /** Stops the loop (Ctrl-C in the CLI); a sleep in progress ends at once. */
  signal?: AbortSignal;
  /** Tests stop after this many rounds; the CLI runs until interrupted. */
  maxIterations?: number;
}

/**
 * Runs `round` now and then every intervalMs (measured start to start, so a slow round does not
 * drift the schedule) until aborted or maxIterations. Returns how many rounds ran. An error in a
 * round ends the loop with it: a watch that hides a failing database would be worse than none.
 */
export async function runWatch(opts: WatchOptions, round: (iteration: number) => Promise<void>): Promise<number> {
  let done = 0;
  while (!opts.signal?.aborted && (opts.maxIterations === undefined || done < opts.maxIterations)) {
    const started = Date.now();
    await round(done);
    done++;
    if (opts.maxIterations !== undefined && done >= opts.maxIterations) break;
    const wait = Math.max(0, opts.intervalMs - (Date.now() - started));
    try {
      await sleep(wait, undefined, { signal: opts.signal });
    } catch {
      break; // aborted while sleeping
    }
  }
  return done;
}
