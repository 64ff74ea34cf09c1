import type { PoolClient } from 'pg';
import { Db } from '../db/pool';
import { pgCode } from '../db/pg-errors';
import { loadMigrations, Migration } from '../migrate/loader';
import { getStatus, MigrationStatus } from '../migrate/runner';
import {
  CACHE_HIT_SQL, CONNECTIONS_SQL, INDEX_SIZES_SQL, LONG_TRANSACTIONS_SQL, lockWaitsSql, SERVER_SQL,
  SLOW_QUERIES_SQL, STATEMENTS_EXTENSION_SQL, TABLE_SIZES_SQL,
} from './queries';

/** The design's monitoring threshold (DatabasePerformanceService): a statement slower than 1 s on average. */
export const SLOW_QUERY_MS = 1000;
const QUERY_TEXT = 200;
const ROWS = 10;

export interface HealthReport {
  at: Date;
  durationMs: number;
  server: { database: string; version: string; versionNum: number; maxConnections: number; serverConnections: number };
  connections: { state: string; count: number }[];
  longTransactions: { pid: number; applicationName: string; state: string | null; ageSeconds: number; query: string }[];
  lockWaits: {
    blockedPid: number; blockedApplication: string; blockingPid: number; blockingApplication: string;
    blockingState: string | null; waitSeconds: number; blockedQuery: string; blockingQuery: string;
  }[];
  tables: { table: string; totalBytes: number; tableBytes: number; indexBytes: number; rowsEstimate: number | null }[];
  indexes: { index: string; table: string; bytes: number; scans: number }[];
  cacheHit: { blocksHit: number; blocksRead: number; ratio: number | null };
  slowQueries: SlowQueries;
  migrations: { applied: number; pending: number; changed: number; missing: number; latest: string | null; summary: string };
}

export type SlowQueries =
  | { available: true; thresholdMs: number; overThreshold: number;
      top: { queryId: string; calls: number; meanMs: number; totalMs: number; rows: number; query: string }[] }
  | { available: false; reason: string; hint: string };

export const ENABLE_STATEMENTS_HINT = [
  'Enable pg_stat_statements to see slow queries:',
  "  1. postgresql.conf: shared_preload_libraries = 'pg_stat_statements' (then restart PostgreSQL)",
  '  2. in this database: CREATE EXTENSION pg_stat_statements;',
].join('\n');

/**
 * Every figure of `db health`, read on one connection one after the other: cheap statistics
 * views only, so it is safe to run from cron every minute against a busy server. The migration
 * history is read after that connection is given back: holding one while waiting for another
 * deadlocks a pool of one (`--pool 1`).
 */
export async function getHealth(db: Db, migrations: Migration[] = loadMigrations(), now = () => new Date()): Promise<HealthReport> {
  const started = Date.now();
  const client = await db.pool.connect();
  let report: Omit<HealthReport, 'durationMs' | 'migrations'>;
  try {
    const q = async <R>(sql: string, params: unknown[] = []) => (await client.query(sql, params)).rows as R[];
    const [server] = await q<HealthReport['server']>(SERVER_SQL);
    report = {
      at: now(),
      server,
      connections: await q(CONNECTIONS_SQL),
      longTransactions: await q(LONG_TRANSACTIONS_SQL, [QUERY_TEXT, ROWS]),
      lockWaits: await q(lockWaitsSql(server.versionNum), [QUERY_TEXT, ROWS]),
      tables: await q(TABLE_SIZES_SQL),
      indexes: await q(INDEX_SIZES_SQL),
      cacheHit: (await q<HealthReport['cacheHit']>(CACHE_HIT_SQL))[0],
      slowQueries: await getSlowQueries(client),
    };
  } finally {
    client.release();
  }
  const status = await getStatus(db, migrations);
  return { ...report, migrations: summariseMigrations(status), durationMs: Date.now() - started };
}

/** Slow statements when pg_stat_statements can tell; otherwise why not and how to enable it. */
export async function getSlowQueries(client: Pick<PoolClient, 'query'>): Promise<SlowQueries> {
  const ext = await client.query(STATEMENTS_EXTENSION_SQL);
  if (ext.rows.length === 0) {
    return { available: false, reason: 'the pg_stat_statements extension is not installed in this database', hint: ENABLE_STATEMENTS_HINT };
  }
  try {
    const { rows } = await client.query(SLOW_QUERIES_SQL, [QUERY_TEXT, ROWS, SLOW_QUERY_MS]);
    const top = rows.map(({ overThreshold: _o, ...r }) => r as Extract<SlowQueries, { available: true }>['top'][number]);
    return { available: true, thresholdMs: SLOW_QUERY_MS, overThreshold: rows[0]?.overThreshold ?? 0, top };
  } catch (err) {
    // 55000: installed but not preloaded; 42703: a version before 13 (mean_time, not mean_exec_time).
    const code = pgCode(err);
    if (code === '55000') {
      return { available: false, reason: 'pg_stat_statements is installed but not loaded (shared_preload_libraries)', hint: ENABLE_STATEMENTS_HINT };
    }
    if (code === '42703') {
      return { available: false, reason: 'pg_stat_statements is older than PostgreSQL 13 (no mean_exec_time)', hint: 'Upgrade to PostgreSQL 13 or later.' };
    }
    throw err;
  }
}

export function summariseMigrations(s: MigrationStatus): HealthReport['migrations'] {
  const latest = s.applied.length > 0 ? s.applied[s.applied.length - 1].name : null;
  const counts = { applied: s.applied.length, pending: s.pending.length, changed: s.changed.length, missing: s.missing.length };
  const problems = [
    counts.pending && `${counts.pending} pending`, counts.changed && `${counts.changed} changed since applied`,
    counts.missing && `${counts.missing} applied but missing from migrations/`,
  ].filter(Boolean);
  const summary = `${counts.applied} applied${latest ? ` (latest ${latest})` : ''}, ` +
    (problems.length ? `${problems.join(', ')}: run \`sagactl migrate status\`` : 'up to date');
  return { ...counts, latest, summary };
}
