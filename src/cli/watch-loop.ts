import { Io } from './io';
import type { WatchOptions } from '../watch';

/**
 * A --watch loop in a command: it ends on Ctrl-C or SIGTERM with exit 0 after the round in
 * progress, since that is how a watch is meant to stop. It listens for the signals itself, which
 * tells withApp's interrupt handling (src/cli/signals.ts) to leave them to it, and follows
 * io.signal too (the abort main raises; in-process tests raise it by hand).
 */
export async function watchUntilStopped(io: Io, opts: Omit<WatchOptions, 'signal'>, round: (iteration: number) => Promise<void>): Promise<number> {
  const { runWatch } = require('../watch') as typeof import('../watch');
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  io.signal?.addEventListener('abort', onSignal);
  try {
    return await runWatch({ ...opts, signal: stop.signal }, round);
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    io.signal?.removeEventListener('abort', onSignal);
  }
}
