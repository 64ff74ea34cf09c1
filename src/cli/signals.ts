export type StopSignal = 'SIGINT' | 'SIGTERM';
const SIGNALS: StopSignal[] = ['SIGINT', 'SIGTERM'];

export interface Interrupts {
  /** Resolves with the first SIGINT or SIGTERM this command is to act on; never resolves otherwise. */
  readonly first: Promise<StopSignal>;
  dispose(): void;
}

/**
 * Listens for SIGINT and SIGTERM while a command runs. A command that listens for them itself
 * (a --watch loop, which ends with exit 0 on Ctrl-C after its read-only round) is left to do so.
 * A second signal while the first is being handled ends the process at once, as the signal
 * would without a listener.
 */
export function listenForInterrupts(): Interrupts {
  let resolve!: (signal: StopSignal) => void;
  const first = new Promise<StopSignal>((r) => { resolve = r; });
  const before = new Map(SIGNALS.map((s) => [s, process.listeners(s)]));
  const handlers = new Map<StopSignal, () => void>();
  let seen = false;
  const dispose = () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
    handlers.clear();
  };
  for (const signal of SIGNALS) {
    const handler = () => {
      const others = process.listeners(signal).filter((l) => l !== handler && !before.get(signal)!.includes(l));
      if (others.length > 0) return;
      if (seen) {
        dispose();
        process.kill(process.pid, signal);
        return;
      }
      seen = true;
      resolve(signal);
    };
    handlers.set(signal, handler);
    process.on(signal, handler);
  }
  return { first, dispose };
}
