/**
 * Who a statement that hit its lock_timeout was waiting for. pg_blocking_pids() says it only while
 * the wait lasts, so this asks afterwards, while the command is still connected: the sessions
 * holding locks on the saga tables (a row locked FOR UPDATE shows as a lock on its table), or an
 * advisory lock, other than this process's own, oldest transaction first: the long transaction
 * is the one to look at.
 */
export interface LockHolder {
  pid: number;
  application: string;
  user: string | null;
  state: string | null;
  /** How long it has been in its transaction, in seconds (null when its role hides it from ours). */
  xactSeconds: number | null;
  query: string | null;
  locks: string[];
}

const SAGA_TABLES = ['users', 'items', 'saga_states', 'saga_step_results', 'saga_events', 'transaction_logs', 'notifications',
  'ledger', 'operator_audit', 'saga_stats_rollup', 'saga_stats_latency', 'saga_stats_dirty', 'saga_stats_state'];

const HOLDERS_SQL = `
SELECT a.pid, COALESCE(NULLIF(a.application_name, ''), 'no application_name') AS application, a.usename AS "user", a.state,
       floor(extract(epoch FROM now() - a.xact_start))::int AS "xactSeconds", left(a.query, 120) AS query,
       array_agg(DISTINCT COALESCE(c.relname::text, l.locktype) ORDER BY COALESCE(c.relname::text, l.locktype)) AS locks
  FROM pg_locks l
  JOIN pg_stat_activity a ON a.pid = l.pid
  LEFT JOIN pg_class c ON c.oid = l.relation
 WHERE l.granted AND l.pid <> pg_backend_pid() AND NOT (l.pid = ANY($2::int[]))
   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND (l.locktype = 'advisory' OR (c.relname = ANY($1::text[]) AND c.relnamespace = current_schema()::regnamespace))
 GROUP BY a.pid, a.application_name, a.usename, a.state, a.xact_start, a.query
 ORDER BY a.xact_start NULLS LAST, a.pid
 LIMIT 3`;

export async function findLockHolders(query: (sql: string, params: unknown[]) => Promise<any[]>, ownPids: number[]): Promise<LockHolder[]> {
  return (await query(HOLDERS_SQL, [SAGA_TABLES, ownPids])) as LockHolder[];
}

/** "pid 4711 (psql, user postgres, idle in transaction for 42 s, on users: SELECT ...)" for each. */
export function describeHolders(holders: LockHolder[]): string {
  return holders.map((h) => {
    const parts = [h.application, h.user && `user ${h.user}`, h.state && `${h.state}${h.xactSeconds === null ? '' : ` for ${h.xactSeconds} s in its transaction`}`,
      `holding ${h.locks.join(', ')}`].filter(Boolean);
    return `pid ${h.pid} (${parts.join(', ')})${h.query ? `: ${h.query.replace(/\s+/g, ' ').trim()}` : ''}`;
  }).join('; ');
}
