import { FINAL_STATUSES, SAGA_STATUS } from '../saga/types';
import type { SagaView } from '../saga/queries';

/**
 * The saga cache contract, the one definition every program on this database shares (the CLI,
 * the library, an application's own cache code; docs/schema-contract.md says it in words):
 * - key `saga:<transactionId>`, kept an hour (the design's CachedSagaRepository);
 * - value: the envelope {"schema": "sagactl.saga/1", "saga": <the view `saga show --json` prints>};
 *   anything else under the key (another program's shape, a tombstone) is a miss, never ours;
 * - only sagas in a final status are cached; a writer that changes a saga's state replaces its key
 *   with a tombstone for ten seconds (longer than any read of one saga takes), and readers fill a
 *   key only when it is absent (SET NX), so a reader that loaded the saga before the change cannot
 *   put the old state back.
 */
export const SAGA_CACHE = {
  keyPrefix: 'saga:',
  ttlSeconds: 3600,
  tombstoneSeconds: 10,
  schema: 'sagactl.saga/1',
} as const;

export function sagaCacheKey(id: string, prefix: string = SAGA_CACHE.keyPrefix): string {
  return `${prefix}${id}`;
}

export const TOMBSTONE = JSON.stringify({ schema: SAGA_CACHE.schema, invalidated: true });

export function isCacheable(view: Pick<SagaView, 'status'>): boolean {
  return (FINAL_STATUSES as readonly string[]).includes(view.status);
}

export function encodeSagaView(view: SagaView): string {
  return JSON.stringify({ schema: SAGA_CACHE.schema, saga: view });
}

const DATE_FIELDS = ['createdAt', 'updatedAt', 'completedAt', 'leaseExpiresAt'] as const;
const STATUSES = new Set<string>(Object.values(SAGA_STATUS));

/** The view as getSaga returns it (Dates revived), or undefined for anything not exactly ours: a miss. */
export function decodeSagaView(text: string, id: string): SagaView | undefined {
  let envelope: { schema?: unknown; saga?: SagaView };
  try {
    envelope = JSON.parse(text);
  } catch {
    return undefined;
  }
  const view = envelope?.saga;
  if (envelope?.schema !== SAGA_CACHE.schema || typeof view !== 'object' || view === null) return undefined;
  if (view.transactionId !== id || !STATUSES.has(view.status) || !Array.isArray(view.steps) || typeof view.total !== 'string') return undefined;
  for (const field of DATE_FIELDS) {
    const value = view[field] as unknown;
    if (typeof value === 'string') (view as unknown as Record<string, unknown>)[field] = new Date(value);
  }
  return view;
}

/**
 * The read-through cache of saga state. Implementations never throw: a cache that fails only warns.
 * `invalidate` resolves once the tombstones are written (a writer awaits it before saying "done");
 * the saga engine's own hot path does not wait for it.
 */
export interface SagaCache {
  get(id: string): Promise<SagaView | undefined>;
  /** Fills the key only if it is absent (never over a tombstone). */
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

/** The design's findById: the cache first; on a miss PostgreSQL, then the cache is filled. */
export async function readThrough(cache: SagaCache, id: string, load: (id: string) => Promise<SagaView>): Promise<SagaView> {
  const cached = await cache.get(id);
  if (cached) return cached;
  const view = await load(id);
  if (isCacheable(view)) await cache.set(view);
  return view;
}
