/**
 * The SQL of `db health`, one statement per figure, every value a parameter. All of it reads the
 * statistics views of the database we are connected to (current_database()), never another's.
 */

export const SERVER_SQL = `
SELECT current_database() AS database, current_setting('server_version') AS version,
       current_setting('server_version_num')::int AS "versionNum",
       current_setting('max_connections')::int AS "maxConnections",
       (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'client backend') AS "serverConnections"`;

/** Client connections to this database by state ('idle in transaction' is the one to watch). */
export const CONNECTIONS_SQL = `
SELECT COALESCE(state, 'unknown') AS state, count(*)::int AS count
  FROM pg_stat_activity
 WHERE datname = current_database() AND backend_type = 'client backend'
 GROUP BY 1 ORDER BY 2 DESC, 1`;

/** $1: query text length; $2: rows. Our own session is left out: it is always "in a transaction". */
export const LONG_TRANSACTIONS_SQL = `
SELECT pid, application_name AS "applicationName", state,
       round(extract(epoch FROM now() - xact_start)::numeric, 3)::float8 AS "ageSeconds",
       left(regexp_replace(query, '\\s+', ' ', 'g'), $1) AS query
  FROM pg_stat_activity
 WHERE datname = current_database() AND xact_start IS NOT NULL AND pid <> pg_backend_pid()
 ORDER BY xact_start
 LIMIT $2`;

/**
 * Who waits on a lock and who holds it up. pg_locks.waitstart exists from PostgreSQL 14; before
 * it the wait is counted from the start of the waiting statement.
 */
export function lockWaitsSql(versionNum: number): string {
  const waitStart = versionNum >= 140000
    ? '(SELECT min(l.waitstart) FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted)'
    : 'a.query_start';
  return `
SELECT a.pid AS "blockedPid", a.application_name AS "blockedApplication",
       b.pid AS "blockingPid", b.application_name AS "blockingApplication", b.state AS "blockingState",
       round(extract(epoch FROM now() - COALESCE(${waitStart}, a.query_start))::numeric, 3)::float8 AS "waitSeconds",
       left(regexp_replace(a.query, '\\s+', ' ', 'g'), $1) AS "blockedQuery",
       left(regexp_replace(b.query, '\\s+', ' ', 'g'), $1) AS "blockingQuery"
  FROM pg_stat_activity a
 CROSS JOIN LATERAL unnest(pg_blocking_pids(a.pid)) AS blocker(pid)
  JOIN pg_stat_activity b ON b.pid = blocker.pid
 WHERE a.datname = current_database() AND a.wait_event_type = 'Lock'
 ORDER BY "waitSeconds" DESC, a.pid
 LIMIT $2`;
}

/**
 * Every table of the schema the migrations write to (current_schema()): a fixed list would miss
 * each table a later migration adds. reltuples is -1 until the table was first analysed.
 */
export const TABLE_SIZES_SQL = `
SELECT c.relname AS table, pg_total_relation_size(c.oid)::float8 AS "totalBytes",
       pg_relation_size(c.oid)::float8 AS "tableBytes", pg_indexes_size(c.oid)::float8 AS "indexBytes",
       CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::float8 END AS "rowsEstimate"
  FROM pg_class c
 WHERE c.relkind IN ('r', 'p') AND c.relnamespace = current_schema()::regnamespace
 ORDER BY "totalBytes" DESC, c.relname`;

/** The indexes of those tables. idx_scan 0 on an old database marks an index nobody uses. */
export const INDEX_SIZES_SQL = `
SELECT s.indexrelname AS index, s.relname AS table, pg_relation_size(s.indexrelid)::float8 AS bytes,
       s.idx_scan::float8 AS scans
  FROM pg_stat_user_indexes s
 WHERE s.schemaname = current_schema()
 ORDER BY bytes DESC, s.indexrelname`;

export const CACHE_HIT_SQL = `
SELECT blks_hit::float8 AS "blocksHit", blks_read::float8 AS "blocksRead",
       CASE WHEN blks_hit + blks_read = 0 THEN NULL
            ELSE round(blks_hit::numeric / (blks_hit + blks_read), 4)::float8 END AS ratio
  FROM pg_stat_database WHERE datname = current_database()`;

export const STATEMENTS_EXTENSION_SQL = `SELECT extversion AS version FROM pg_extension WHERE extname = 'pg_stat_statements'`;

/**
 * $1: query text length; $2: rows; $3: the slow threshold in ms. Column names of PostgreSQL 13+
 * (mean_exec_time, total_exec_time). The statements of this database only.
 */
export const SLOW_QUERIES_SQL = `
SELECT s.queryid::text AS "queryId", s.calls::float8 AS calls,
       round(s.mean_exec_time::numeric, 3)::float8 AS "meanMs", round(s.total_exec_time::numeric, 3)::float8 AS "totalMs",
       s.rows::float8 AS rows, left(regexp_replace(s.query, '\\s+', ' ', 'g'), $1) AS query,
       count(*) FILTER (WHERE s.mean_exec_time >= $3) OVER ()::int AS "overThreshold"
  FROM pg_stat_statements s
 WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
 ORDER BY s.mean_exec_time DESC
 LIMIT $2`;
