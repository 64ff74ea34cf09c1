import { FINAL_STATUSES } from '../saga/types';
import type { SagaView } from '../saga/queries';
import type { SagaCache } from './saga-cache';

/**
 * Only sagas in a final status are cached. A saga still moving commits its steps without
 * touching the cache (the runner invalidates once, when it settles), so a copy taken mid-way
 * would lag behind its own steps; a settled saga changes only through a command that invalidates.
 */
export function isCacheable(view: SagaView): boolean {
  return (FINAL_STATUSES as readonly string[]).includes(view.status);
}

/** The design's findById: the cache first; on a miss PostgreSQL, then the cache is filled. */
export async function readThrough(cache: SagaCache, id: string, load: (id: string) => Promise<SagaView>): Promise<SagaView> {
  const cached = await cache.get(id);
  if (cached) return cached;
  const view = await load(id);
  if (isCacheable(view)) await cache.set(view);
  return view;
}
