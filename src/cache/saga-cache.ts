import type { SagaView } from '../saga/queries';

/**
 * The read-through cache of saga state (the design's CachedSagaRepository). Every command that
 * changes a saga's state invalidates its key, so readers never see a saga older than the last
 * write. Implementations never throw: a cache that fails only warns.
 */
export interface SagaCache {
  get(id: string): Promise<SagaView | undefined>;
  set(view: SagaView): Promise<void>;
  invalidate(ids: string[]): Promise<void>;
  close(): Promise<void>;
}

/** No cache configured (no REDIS_URL, or --no-cache). */
export const NO_CACHE: SagaCache = {
  get: async () => undefined,
  set: async () => undefined,
  invalidate: async () => undefined,
  close: async () => undefined,
};
