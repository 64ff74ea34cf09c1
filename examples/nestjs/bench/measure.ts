/** Measuring a load the same way over HTTP and in-process. */

/**
 * `concurrency` workers take the next of `count` calls until all are made; each reply is kept with
 * its latency. Shared by the HTTP load and the library's in-process load, so both are measured alike.
 */
export async function measure<R>(count: number, concurrency: number, call: (i: number) => Promise<R>,
  onReply?: (i: number, reply: R) => void): Promise<{ replies: R[]; ms: number[]; wallSeconds: number }> {
  const replies: R[] = new Array(count);
  const ms: number[] = new Array(count);
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const t = performance.now();
      replies[i] = await call(i);
      ms[i] = performance.now() - t;
      onReply?.(i, replies[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { replies, ms, wallSeconds: (performance.now() - started) / 1000 };
}

/** Counts by outcome, the rate of `success` among them, and latency percentiles over the answered calls. */
export function summarize(keys: string[], ms: number[], wallSeconds: number, success: string) {
  const byStatus: Record<string, number> = {};
  for (const k of keys) byStatus[k] = (byStatus[k] ?? 0) + 1;
  const answered = ms.filter((_, i) => keys[i] !== 'error').sort((a, b) => a - b);
  const at = (q: number) => (answered.length === 0 ? 0 : round(answered[Math.min(answered.length - 1, Math.ceil(q * answered.length) - 1)]));
  return {
    byStatus,
    successRate: (byStatus[success] ?? 0) / keys.length,
    purchasesPerSecond: round(keys.length / wallSeconds),
    latencyMs: { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: at(1) },
    wallSeconds: round(wallSeconds),
  };
}

/** The bench's data shape: 100 generated users and 10 items (`seed generate`), quantity 1. */
export function generatedPurchase(i: number, mode = 'orchestration'): Record<string, unknown> {
  return { userId: `gen-user-${String((i % 100) + 1).padStart(7, '0')}`, itemId: `gen-item-${String((i % 10) + 1).padStart(6, '0')}`, quantity: 1, mode };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

