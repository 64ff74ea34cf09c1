import os from 'node:os';
import { Config, DatabaseTarget, maskUrl } from './config';
import { acquireEmbedded, EmbeddedLease } from './db/embedded';
import { NO_CACHE, SagaCache } from './cache/saga-cache';
import { applicationName, assertReachable, createDb, createPool, Db } from './db/pool';
import { createSagaClient, SagaClient } from './client';

/** The composition root: one pool, and one close() that undoes it all. */
export interface App {
  config: Config;
  db: Db;
  /** Invalidate after every write of a saga's state; NO_CACHE unless REDIS_URL is set. */
  cache: SagaCache;
  /** The saga engine over this pool and cache, acting as this OS user on this host. */
  client(opts?: { leaseMs?: number }): SagaClient;
  close(): Promise<void>;
}

export interface AppOptions {
  command: string;
  log: (line: string) => void;
  /** Warnings that never fail the command (a Redis that is down); default: `log` with a prefix. */
  warn?: (line: string) => void;
}

export function describeTarget(target: DatabaseTarget): string {
  return target.kind === 'embedded'
    ? `embedded PostgreSQL in ${target.home} (${target.source})`
    : `${maskUrl(target.url)} (${target.source})`;
}

export async function createApp(config: Config, opts: AppOptions): Promise<App> {
  let lease: EmbeddedLease | undefined;
  let url: string;
  if (config.database.kind === 'embedded') {
    lease = await acquireEmbedded(config.database.home, opts.log);
    url = lease.url;
  } else {
    url = config.database.url;
  }
  const pool = createPool(url, config.poolSize, applicationName(opts.command), config.connectTimeoutMs);
  const cache = createCache(config, opts);
  const close = async () => {
    // The cache first: close() sends the invalidations still queued for the sagas just written.
    await cache.close();
    await pool.end().catch(() => undefined);
    await lease?.release();
  };
  try {
    await assertReachable(pool, url);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    config,
    db: createDb(pool, url),
    cache,
    client: (o = {}) => createSagaClient({ pool, cache, leaseMs: o.leaseMs, actor: { user: os.userInfo().username, host: os.hostname() } }),
    close,
  };
}

function createCache(config: Config, opts: AppOptions): SagaCache {
  if (!config.redis) return NO_CACHE;
  // Loaded only when REDIS_URL is set, so commands without a cache never load the client.
  const { createRedisCache } = require('./cache/redis-cache') as typeof import('./cache/redis-cache');
  return createRedisCache({ ...config.redis, warn: opts.warn ?? ((line) => opts.log(`warning: ${line}`)) });
}
