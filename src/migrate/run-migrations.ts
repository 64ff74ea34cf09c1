import type { Pool } from 'pg';
import { UsageError } from '../errors';
import { createDb, createPool } from '../db/pool';
import type { DataSourceLike } from '../client';
import { loadMigrations } from './loader';
import { RanMigration, runUp } from './runner';

export interface RunMigrationsOptions {
  connectionString?: string;
  pool?: Pool;
  dataSource?: DataSourceLike;
  /** Apply up to and including this migration. */
  to?: string;
  /** How long to wait for another run's migration lock (default 60 s). */
  lockTimeoutMs?: number;
  log?: (line: string) => void;
}

/**
 * `sagactl migrate up` for a program: sagactl's migrations, under its lock, recorded in its
 * history. An application that runs this at start-up instead of the CLI still never lets
 * TypeORM synchronize or run migrations of its own (migrationsRun: false, synchronize: false).
 */
export async function runMigrations(opts: RunMigrationsOptions): Promise<RanMigration[]> {
  const given = (['connectionString', 'pool', 'dataSource'] as const).filter((k) => opts[k] !== undefined);
  if (given.length !== 1) throw new UsageError('runMigrations takes exactly one of connectionString, pool or dataSource.');
  let pool: Pool;
  if (opts.connectionString !== undefined) pool = createPool(opts.connectionString, 2, 'sagactl-migrate', 5000);
  else if (opts.pool !== undefined) pool = opts.pool;
  else {
    if (opts.dataSource!.options?.type !== 'postgres' || !opts.dataSource!.isInitialized) {
      throw new UsageError('dataSource must be an initialised PostgreSQL DataSource.');
    }
    pool = (opts.dataSource!.driver as { master: Pool }).master;
  }
  try {
    return await runUp({ db: createDb(pool, opts.connectionString), migrations: loadMigrations(),
      lockTimeoutMs: opts.lockTimeoutMs ?? 60_000, log: opts.log ?? (() => undefined) }, { to: opts.to });
  } finally {
    if (opts.connectionString !== undefined) await pool.end();
  }
}
