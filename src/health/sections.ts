import type { HealthReport } from './health';

/** One block of the human report: a title, then a table or a line of text. Pure, so it is tested without a terminal. */
export interface Section {
  title: string;
  head?: string[];
  rows?: (string | number)[][];
  lines: string[];
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export function healthSections(r: HealthReport): Section[] {
  const none = (what: string) => (n: number) => (n === 0 ? [what] : []);
  const total = r.connections.reduce((sum, c) => sum + c.count, 0);
  const sq = r.slowQueries;
  return [
    { title: `database ${r.server.database} on PostgreSQL ${r.server.version}`, lines: [
      `migrations: ${r.migrations.summary}`,
      `cache hit ratio: ${r.cacheHit.ratio === null ? 'no reads yet' : `${(r.cacheHit.ratio * 100).toFixed(2)}%`} ` +
        `(${r.cacheHit.blocksHit} hits, ${r.cacheHit.blocksRead} reads)`,
      `connections: ${total} to this database, ${r.server.serverConnections} of ${r.server.maxConnections} on the server`,
    ] },
    { title: 'connections by state', head: ['state', 'count'], rows: r.connections.map((c) => [c.state, c.count]), lines: none('none')(r.connections.length) },
    { title: 'longest-running transactions', head: ['age', 'pid', 'application', 'state', 'query'],
      rows: r.longTransactions.map((t) => [formatSeconds(t.ageSeconds), t.pid, t.applicationName, t.state ?? '', t.query]),
      lines: none('no open transaction')(r.longTransactions.length) },
    { title: 'lock waits', head: ['waiting', 'blocked pid', 'blocking pid', 'blocking state', 'blocked query', 'blocking query'],
      rows: r.lockWaits.map((w) => [formatSeconds(w.waitSeconds), w.blockedPid, w.blockingPid, w.blockingState ?? '', w.blockedQuery, w.blockingQuery]),
      lines: none('nobody waits on a lock')(r.lockWaits.length) },
    { title: 'tables', head: ['table', 'rows (est.)', 'table', 'indexes', 'total'],
      rows: r.tables.map((t) => [t.table, t.rowsEstimate === null ? '?' : Math.round(t.rowsEstimate), formatBytes(t.tableBytes),
        formatBytes(t.indexBytes), formatBytes(t.totalBytes)]),
      lines: none('none of the project\'s tables exist: run `sagactl migrate up`')(r.tables.length) },
    { title: 'indexes', head: ['index', 'table', 'size', 'scans'], rows: r.indexes.map((i) => [i.index, i.table, formatBytes(i.bytes), i.scans]), lines: [] },
    sq.available
      ? { title: `slowest statements (pg_stat_statements; ${sq.overThreshold} with a mean of ${sq.thresholdMs} ms or more)`,
        head: ['mean ms', 'calls', 'total ms', 'query'], rows: sq.top.map((q) => [q.meanMs.toFixed(3), q.calls, q.totalMs.toFixed(1), q.query]),
        lines: none('no statements recorded yet')(sq.top.length) }
      : { title: 'slow queries', lines: [`unavailable: ${sq.reason}.`, ...sq.hint.split('\n')] },
  ];
}
