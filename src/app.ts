import os from 'node:os';
import type { Pool } from 'pg';
import { Config, DatabaseTarget, maskUrl } from './config';
import { acquireEmbedded, EmbeddedLease } from './db/embedded';
import { NO_CACHE, SagaCache } from './cache/saga-cache';
import { applicationName, backendPids, createDb, createPool, Db, unreachable } from './db/pool';
import { attemptsFor, connectionUrl, fallsBack } from './db/tls';
import { databaseError, isConnectionError, PG, pgCode } from './db/pg-errors';
import { cancelOwnWork, CancelReport, LeftSaga, releaseLeases } from './db/cancel';
import { describeHolders, findLockHolders } from './db/lock-holders';
import { assertPrivileges } from './db/privileges';
import { AppError } from './errors';
import { createSagaClient, SagaClient } from './client';

/** The composition root: one pool, and one close() that undoes it all. */
export interface App {
  config: Config;
  db: Db;
  /** Invalidate after every write of a saga's state; NO_CACHE unless REDIS_URL is set. */
  cache: SagaCache;
  /** The saga engine over this pool and cache, acting as this OS user on this host, under the lock timeout. */
  client(opts?: { leaseMs?: number; grouping?: boolean }): SagaClient;
  /**
   * Stops the command's work (SIGINT/SIGTERM): no new statement starts (the pool closes), the
   * running ones are cancelled on the server, and the sagas this process holds are released.
   */
  interrupt(): Promise<CancelReport>;
  /**
   * A failure as the user should read it, found out while the command is still connected: a
   * lock timeout names the sessions it waited for, and the sagas this process was driving are
   * released for recovery and listed. Anything not from the database is returned as it is.
   */
  explain(err: unknown): Promise<unknown>;
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
  const cache = createCache(config, opts);
  let pool: Pool;
  let pgUrl: string;
  try {
    ({ pool, pgUrl } = await connect(url, config, opts.command));
  } catch (err) {
    await cache.close();
    await lease?.release();
    throw err;
  }
  let ended: Promise<void> | undefined;
  const endPool = () => (ended ??= pool.end().catch(() => undefined));
  const close = async () => {
    // The cache first: close() sends the invalidations still queued for the sagas just written.
    await cache.close();
    await endPool();
    await lease?.release();
  };
  // The URL with the settings and TLS decided, so a connection made from it (a migration lock) is like the pool's.
  const db = createDb(pool, pgUrl, url);
  try {
    await assertPrivileges(db, opts.command);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    config,
    db,
    cache,
    client: (o = {}) => createSagaClient({ pool, cache, leaseMs: o.leaseMs, grouping: o.grouping, lockTimeoutMs: config.lockTimeoutMs,
      actor: { user: os.userInfo().username, host: os.hostname() } }),
    async interrupt() {
      const pids = backendPids(pool);
      void endPool();
      return cancelOwnWork({ url: pgUrl, pids, connectTimeoutMs: config.connectTimeoutMs });
    },
    explain: (err) => explain(err, db),
    close,
  };
}

/**
 * The first connection, tried as libpq would: `prefer` tries TLS then a plain connection, `allow`
 * the other way round; every other mode is one attempt. Every way it can fail is one exit-4
 * error naming the server (a certificate says it is a certificate).
 */
async function connect(url: string, config: Config, command: string): Promise<{ pool: Pool; pgUrl: string }> {
  const attempts = attemptsFor(config.tls.mode);
  for (const [i, attempt] of attempts.entries()) {
    const pgUrl = connectionUrl(url, attempt, config.tls.rootCert, config.sessionOptions);
    const pool = createPool(pgUrl, config.poolSize, applicationName(command), config.connectTimeoutMs);
    try {
      await pool.query('SELECT 1');
      return { pool, pgUrl };
    } catch (err) {
      await pool.end().catch(() => undefined);
      if (i < attempts.length - 1 && fallsBack(attempt, err)) continue;
      throw unreachable(err, url);
    }
  }
  throw new Error('no connection attempt for this sslmode');
}

async function explain(err: unknown, db: Db): Promise<unknown> {
  if (err instanceof AppError) return err;
  const mapped = databaseError(err);
  // A bug, or a server that is gone: nothing more can be learnt from it.
  if (!mapped || isConnectionError(err)) return mapped ?? err;
  let message = mapped.message;
  if (pgCode(err) === PG.lockNotAvailable) {
    const holders = await findLockHolders((sql, params) => db.query(sql, params), backendPids(db.pool)).catch(() => []);
    message += holders.length > 0 ? ` It waited for ${describeHolders(holders)}.` : ' The session holding it has let go since.';
  }
  const left = await releaseLeases(async (sql, params) => ({ rows: await db.query(sql, params) })).catch((): LeftSaga[] => []);
  return new AppError(message, mapped.exitCode, [mapped.hint, describeLeft(left)].filter(Boolean).join('\n'), mapped.code);
}

/** What this process left in flight, and how to finish it; empty when nothing was left. */
export function describeLeft(left: LeftSaga[]): string {
  if (left.length === 0) return '';
  const shown = left.slice(0, 10).map((s) => `${s.transactionId} (${s.status})`).join(', ');
  return `${left.length} saga(s) were left in flight and are free for recovery now: ${shown}${left.length > 10 ? ', …' : ''}. ` +
    'Finish or undo them: sagactl saga recover --yes';
}

function createCache(config: Config, opts: AppOptions): SagaCache {
  if (!config.redis) return NO_CACHE;
  // Loaded only when REDIS_URL is set, so commands without a cache never load the client.
  const { createRedisCache } = require('./cache/redis-cache') as typeof import('./cache/redis-cache');
  return createRedisCache({ ...config.redis, warn: opts.warn ?? ((line) => opts.log(`warning: ${line}`)) });
}
