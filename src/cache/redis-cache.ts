import { createClient } from '@redis/client';
import { maskUrl, RedisTarget } from '../config';
import type { SagaView } from '../saga/queries';
import { decodeSagaView, encodeSagaView, SAGA_CACHE, SagaCache, sagaCacheKey, TOMBSTONE } from './saga-cache';

/** Keys per batch: one round trip for a whole batch, small enough never to stall Redis. */
export const INVALIDATE_BATCH = 500;
/** Invalidations gather this long before they are sent; close() sends whatever is left. */
const FLUSH_DELAY_MS = 50;

export interface RedisCacheOptions extends RedisTarget {
  /** Told once, the first time Redis fails; after that the cache is off for this process. */
  warn: (line: string) => void;
  /** Tests isolate themselves with their own prefix; the product uses the contract's `saga:`. */
  keyPrefix?: string;
}

/**
 * The saga cache over Redis (node-redis). Redis holds only a copy, so it may never fail or slow
 * a command: every call is bounded by a timeout and swallows its error; the first failure warns
 * once and turns the cache off for the rest of the process (no reconnects, no retry storm).
 * Nothing connects until the cache is first used, so commands that never read it never wait.
 */
export class RedisSagaCache implements SagaCache {
  private readonly client: ReturnType<typeof createClient>;
  private readonly prefix: string;
  private connecting?: Promise<unknown>;
  private broken = false;
  private readonly pending = new Set<string>();
  /** Resolves when the batch now gathering has been written. */
  private next = deferred();
  private readonly inflight = new Set<Promise<void>>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly opts: RedisCacheOptions) {
    this.prefix = opts.keyPrefix ?? SAGA_CACHE.keyPrefix;
    this.client = createClient({
      url: opts.url,
      // Shows who holds the connection in CLIENT LIST.
      name: `sagactl:${process.pid}`,
      // No reconnect: a reconnect loop would keep timers alive and the process from exiting.
      socket: { connectTimeout: opts.connectTimeoutMs, reconnectStrategy: false },
      // Commands issued while disconnected fail at once instead of queueing behind a dead server.
      disableOfflineQueue: true,
    });
    // Failures reach us through the commands; an 'error' event without a listener would crash.
    this.client.on('error', () => undefined);
  }

  key(id: string): string {
    return sagaCacheKey(id, this.prefix);
  }

  async get(id: string): Promise<SagaView | undefined> {
    const text = await this.guard(() => this.client.get(this.key(id)));
    return typeof text === 'string' ? decodeSagaView(text, id) : undefined;
  }

  async set(view: SagaView): Promise<void> {
    await this.guard(() => this.client.set(this.key(view.transactionId), encodeSagaView(view),
      { condition: 'NX', expiration: { type: 'EX', value: SAGA_CACHE.ttlSeconds } }));
  }

  /**
   * Queues the keys; the promise resolves once their tombstones are written. The engine's hot path
   * does not wait for it (`saga load` invalidates once per saga); an operator's write does. The
   * keys leave in pipelined batches, on a short timer, when a batch is full, and on close().
   */
  invalidate(ids: string[]): Promise<void> {
    if (this.broken || ids.length === 0) return Promise.resolve();
    for (const id of ids) this.pending.add(id);
    const written = this.next.promise;
    if (this.pending.size >= INVALIDATE_BATCH) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), FLUSH_DELAY_MS);
      this.timer.unref();
    }
    return written;
  }

  async close(): Promise<void> {
    await this.flush();
    await Promise.all(this.inflight);
    if (this.broken || !this.connecting) return;
    try {
      await withTimeout(this.client.close(), this.opts.commandTimeoutMs, 'closing the connection');
    } catch {
      this.destroy();
    }
  }

  private flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.next;
    this.next = deferred();
    if (this.pending.size === 0 || this.broken) {
      batch.resolve();
      return Promise.resolve();
    }
    const keys = [...this.pending].map((id) => this.key(id));
    this.pending.clear();
    // Issued in the same tick, so node-redis writes them as one pipeline.
    const sent = this.guard(() => Promise.all(keys.map((key) =>
      this.client.set(key, TOMBSTONE, { expiration: { type: 'EX', value: SAGA_CACHE.tombstoneSeconds } }))), keys.length)
      .then(() => batch.resolve());
    this.inflight.add(sent);
    void sent.then(() => this.inflight.delete(sent));
    return sent;
  }

  /**
   * Runs one Redis call within the timeouts; on any failure warns (once) and gives up on Redis.
   * `keys` is how many invalidations the call carries, lost if it fails.
   */
  private async guard<T>(call: () => Promise<T>, keys = 0): Promise<T | undefined> {
    if (this.broken) return undefined;
    try {
      this.connecting ??= this.client.connect();
      await withTimeout(this.connecting, this.opts.connectTimeoutMs, 'connecting');
      return await withTimeout(call(), this.opts.commandTimeoutMs, 'a command');
    } catch (err) {
      this.giveUp(err, keys);
      return undefined;
    }
  }

  private giveUp(err: unknown, keys: number): void {
    if (this.broken) return;
    this.broken = true;
    const lost = keys + this.pending.size;
    this.pending.clear();
    clearTimeout(this.timer);
    this.next.resolve(); // nobody waits on a cache that is gone
    this.opts.warn(`the Redis cache at ${maskUrl(this.opts.url)} is unavailable (${reasonOf(err)}); going on without it.` +
      (lost > 0 ? ` ${lost} saga key(s) were not invalidated: a cached view of them may be stale for up to ${SAGA_CACHE.ttlSeconds / 3600} h.` : ''));
    this.destroy();
  }

  private destroy(): void {
    try {
      this.client.destroy();
    } catch {
      // Already closed: nothing left to release.
    }
  }
}

/**
 * The cause in a few words. Duck-typed, not instanceof: socket errors may come from another realm
 * (a test sandbox), and a connection refused on both ::1 and 127.0.0.1 is an AggregateError with
 * an empty message.
 */
function reasonOf(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  const e = err as { message?: string; code?: string; name?: string; errors?: unknown[] };
  if (Array.isArray(e.errors) && e.errors.length > 0) return reasonOf(e.errors[0]);
  return e.message || e.code || e.name || String(err);
}

/** Rejects after `ms`; the timer is always cleared and a late rejection of `p` is never unhandled. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  p.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export function createRedisCache(opts: RedisCacheOptions): SagaCache {
  return new RedisSagaCache(opts);
}
