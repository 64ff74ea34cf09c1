import type { HealthReport } from './health';
import { formatSample, labelText } from './exposition';

export { labelText };

const UP_HELP = 'Whether the database answered the health queries.';
const TIMESTAMP_HELP = 'When this report was taken (Unix time).';

/**
 * The report in the Prometheus text exposition format, for node_exporter's textfile collector.
 * Names are prefixed `sagactl_`, units in the name (_bytes, _seconds), one HELP and TYPE per family.
 * Labels are only ever our own table, index and state names: bounded cardinality.
 */
export function renderPrometheus(r: HealthReport): string {
  const out: string[] = [];
  const family = (name: string, type: 'gauge' | 'counter', help: string, samples: [Record<string, string>, number | null][]) => {
    const present = samples.filter((s): s is [Record<string, string>, number] => s[1] !== null && Number.isFinite(s[1]));
    if (present.length === 0) return;
    out.push(`# HELP sagactl_${name} ${help}`, `# TYPE sagactl_${name} ${type}`);
    for (const [labels, value] of present) out.push(`sagactl_${name}${labelText(labels)} ${formatSample(value)}`);
  };
  const one = (value: number | null): [Record<string, string>, number | null][] => [[{}, value]];
  const longest = (values: number[]) => (values.length > 0 ? Math.max(...values) : 0);

  family('db_up', 'gauge', UP_HELP, one(1));
  family('db_max_connections', 'gauge', 'The server\'s max_connections.', one(r.server.maxConnections));
  family('db_server_connections', 'gauge', 'Client connections to the whole server, every database.', one(r.server.serverConnections));
  family('db_connections', 'gauge', 'Client connections to this database by state.', connectionSamples(r));
  family('db_longest_transaction_seconds', 'gauge', 'Age of the oldest open transaction in this database (0 when none).',
    one(longest(r.longTransactions.map((t) => t.ageSeconds))));
  family('db_lock_waits', 'gauge', 'Sessions of this database waiting on a lock held by another.', one(new Set(r.lockWaits.map((w) => w.blockedPid)).size));
  family('db_longest_lock_wait_seconds', 'gauge', 'Longest current lock wait (0 when none).', one(longest(r.lockWaits.map((w) => w.waitSeconds))));
  family('db_table_size_bytes', 'gauge', 'Heap size of each of the project\'s tables.', r.tables.map((t) => [{ table: t.table }, t.tableBytes]));
  family('db_table_total_size_bytes', 'gauge', 'Heap, TOAST and index size of each of the project\'s tables.',
    r.tables.map((t) => [{ table: t.table }, t.totalBytes]));
  family('db_table_rows_estimate', 'gauge', 'The planner\'s row estimate (absent before the first ANALYZE).',
    r.tables.map((t) => [{ table: t.table }, t.rowsEstimate]));
  family('db_index_size_bytes', 'gauge', 'Size of each index on the project\'s tables.', r.indexes.map((i) => [{ index: i.index, table: i.table }, i.bytes]));
  family('db_index_scans_total', 'counter', 'Index scans since the statistics were reset.', r.indexes.map((i) => [{ index: i.index, table: i.table }, i.scans]));
  family('db_cache_hit_ratio', 'gauge', 'Share of block reads served from shared buffers (absent before any read).', one(r.cacheHit.ratio));
  family('db_blocks_hit_total', 'counter', 'Blocks found in shared buffers.', one(r.cacheHit.blocksHit));
  family('db_blocks_read_total', 'counter', 'Blocks read from disk or the OS cache.', one(r.cacheHit.blocksRead));
  family('db_pg_stat_statements_available', 'gauge', 'Whether pg_stat_statements is installed and loaded.', one(r.slowQueries.available ? 1 : 0));
  if (r.slowQueries.available) {
    family('db_slow_statements', 'gauge', `Statements whose mean time is at least ${r.slowQueries.thresholdMs} ms.`,
      [[{ threshold_ms: String(r.slowQueries.thresholdMs) }, r.slowQueries.overThreshold]]);
    family('db_slowest_statement_mean_seconds', 'gauge', 'Mean time of the slowest statement (0 when none).',
      one(longest(r.slowQueries.top.map((q) => q.meanMs)) / 1000));
  }
  for (const key of ['applied', 'pending', 'changed', 'missing'] as const) {
    family(`migrations_${key}`, 'gauge', `Migrations ${key === 'missing' ? 'applied but missing from the sources' : key}.`, one(r.migrations[key]));
  }
  family('health_timestamp_seconds', 'gauge', TIMESTAMP_HELP, one(r.at.getTime() / 1000));
  family('health_duration_seconds', 'gauge', 'How long the health queries took.', one(r.durationMs / 1000));
  return `${out.join('\n')}\n`;
}

/** Every state appears, 0 included, so a state that drains to nothing reads 0 instead of vanishing. */
function connectionSamples(r: HealthReport): [Record<string, string>, number][] {
  const known = ['active', 'idle', 'idle in transaction', 'idle in transaction (aborted)', 'fastpath function call', 'disabled'];
  const counts = new Map(known.map((s) => [s, 0]));
  for (const c of r.connections) counts.set(c.state, c.count);
  return [...counts].map(([state, count]) => [{ state }, count]);
}

/**
 * What the file says when the health report could not be made (the database unreachable, a
 * password refused): down, and when that was seen, so an alert fires instead of an old "up" lingering.
 */
export function renderPrometheusDown(at: Date): string {
  return [
    `# HELP sagactl_db_up ${UP_HELP}`, '# TYPE sagactl_db_up gauge', 'sagactl_db_up 0',
    `# HELP sagactl_health_timestamp_seconds ${TIMESTAMP_HELP}`, '# TYPE sagactl_health_timestamp_seconds gauge',
    `sagactl_health_timestamp_seconds ${formatSample(at.getTime() / 1000)}`, '',
  ].join('\n');
}
