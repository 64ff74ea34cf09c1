import { Db } from '../db/pool';
import { NotFoundError } from '../errors';
import { PurchaseRequest, SagaMode, SagaStatus } from './types';

/** Anything that runs one purchase to its end: the engine, or the naive baseline of the benchmark. */
export interface Purchaser {
  run(req: PurchaseRequest): Promise<{ status: SagaStatus }>;
}

export interface LoadOptions {
  count: number;
  concurrency: number;
  mode: SagaMode;
  quantity: number;
  seed: number;
  userId?: string;
  itemId?: string;
}

export interface LoadResult {
  count: number;
  concurrency: number;
  mode: SagaMode;
  completed: number;
  compensated: number;
  failed: number;
  compensationFailed: number;
  /** Sagas that did not reach a final status (an error, or another driver took them over). */
  unfinished: number;
  errors: string[];
  sagasPerSecond: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  histogram: { upToMs: number; count: number }[];
  /** Sagas finished in each second of the run. */
  perSecond: number[];
  wallSeconds: number;
}

/** A small seeded PRNG (mulberry32): the same --seed picks the same users and items. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function candidates(db: Db, opts: LoadOptions): Promise<{ users: string[]; items: string[] }> {
  const users = opts.userId ? [opts.userId]
    : (await db.query(`SELECT user_id FROM users WHERE status = 'active' ORDER BY user_id LIMIT 10000`)).map((r) => r.user_id);
  const items = opts.itemId ? [opts.itemId]
    : (await db.query('SELECT item_id FROM items WHERE is_available ORDER BY item_id LIMIT 10000')).map((r) => r.item_id);
  if (users.length === 0 || items.length === 0) {
    throw new NotFoundError('No active users or available items to buy with.',
      'Seed some first: sagactl seed generate --users 100 --items 10 --balance 1000000.00 --stock 1000000');
  }
  return { users, items };
}

/** N purchases, C in flight at a time, every one awaited: a saga that never settles is counted, not lost. */
export async function runLoad(db: Db, runner: Purchaser, opts: LoadOptions, onProgress: (done: number) => void): Promise<LoadResult> {
  const { users, items } = await candidates(db, opts);
  const random = prng(opts.seed);
  const plan = Array.from({ length: opts.count }, () => ({
    userId: users[Math.floor(random() * users.length)],
    itemId: items[Math.floor(random() * items.length)],
  }));
  const latencies: number[] = [];
  const finishedAt: number[] = [];
  const outcomes = new Map<SagaStatus | 'error', number>();
  const errors = new Set<string>();
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < plan.length) {
      const { userId, itemId } = plan[next++];
      const t0 = performance.now();
      let status: SagaStatus | 'error';
      try {
        status = (await runner.run({ userId, itemId, quantity: opts.quantity, mode: opts.mode })).status;
      } catch (err) {
        status = 'error';
        errors.add((err as Error).message);
      }
      const t1 = performance.now();
      latencies.push(t1 - t0);
      finishedAt.push(t1 - started);
      outcomes.set(status, (outcomes.get(status) ?? 0) + 1);
      onProgress(latencies.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, opts.count) }, worker));
  const wallSeconds = (performance.now() - started) / 1000;
  const n = (s: SagaStatus) => outcomes.get(s) ?? 0;
  const settled = n('completed') + n('compensated') + n('failed') + n('compensation_failed');
  return {
    count: opts.count,
    concurrency: opts.concurrency,
    mode: opts.mode,
    completed: n('completed'),
    compensated: n('compensated'),
    failed: n('failed'),
    compensationFailed: n('compensation_failed'),
    unfinished: opts.count - settled,
    errors: [...errors].slice(0, 5),
    sagasPerSecond: Math.round(opts.count / wallSeconds),
    latencyMs: summarise(latencies),
    histogram: histogram(latencies),
    perSecond: perSecond(finishedAt),
    wallSeconds: Math.round(wallSeconds * 1000) / 1000,
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function summarise(latencies: number[]): LoadResult['latencyMs'] {
  const sorted = [...latencies].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 100) / 100;
  return { p50: r(percentile(sorted, 50)), p95: r(percentile(sorted, 95)), p99: r(percentile(sorted, 99)), max: r(sorted[sorted.length - 1] ?? 0) };
}

/** Counts per latency bucket, doubling from 0.5 ms, trimmed to the buckets that hold anything. */
export function histogram(latencies: number[]): { upToMs: number; count: number }[] {
  const bounds = Array.from({ length: 16 }, (_, i) => 0.5 * 2 ** i);
  const counts = bounds.map(() => 0);
  for (const l of latencies) {
    const bucket = bounds.findIndex((b) => l <= b);
    counts[bucket === -1 ? bounds.length - 1 : bucket]++; // beyond the last bound: the last bucket
  }
  const first = counts.findIndex((c) => c > 0);
  const last = counts.length - 1 - [...counts].reverse().findIndex((c) => c > 0);
  if (first < 0) return [];
  return bounds.slice(first, last + 1).map((upToMs, i) => ({ upToMs, count: counts[first + i] }));
}

function perSecond(finishedAtMs: number[]): number[] {
  const seconds: number[] = [];
  for (const t of finishedAtMs) {
    const s = Math.floor(t / 1000);
    while (seconds.length <= s) seconds.push(0);
    seconds[s]++;
  }
  return seconds;
}
