import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ENABLE_STATEMENTS_HINT, HealthReport, summariseMigrations } from '../../src/health/health';
import { labelText, renderPrometheus } from '../../src/health/prometheus';
import { formatBytes, formatSeconds, healthSections } from '../../src/health/sections';
import { runWatch } from '../../src/watch';
import { writeFileAtomic } from '../../src/health/atomic-write';
import { lockWaitsSql } from '../../src/health/queries';
import { runMain } from '../support/cli';

export function sampleReport(over: Partial<HealthReport> = {}): HealthReport {
  return {
    at: new Date('2026-11-24T10:00:00Z'),
    durationMs: 42,
    server: { database: 'shop', version: '15.20', versionNum: 150020, maxConnections: 100, serverConnections: 7 },
    connections: [{ state: 'active', count: 2 }, { state: 'idle in transaction', count: 1 }],
    longTransactions: [{ pid: 101, applicationName: 'sagactl:saga-load', state: 'idle in transaction', ageSeconds: 75.5, query: 'UPDATE users SET ...' }],
    lockWaits: [{ blockedPid: 102, blockedApplication: 'psql', blockingPid: 101, blockingApplication: 'sagactl', blockingState: 'idle in transaction',
      waitSeconds: 12.25, blockedQuery: 'UPDATE users ...', blockingQuery: 'UPDATE users ...' }],
    tables: [{ table: 'saga_states', totalBytes: 3 * 1024 * 1024, tableBytes: 2 * 1024 * 1024, indexBytes: 1024 * 1024, rowsEstimate: 1000 },
      { table: 'users', totalBytes: 16384, tableBytes: 8192, indexBytes: 8192, rowsEstimate: null }],
    indexes: [{ index: 'users_pkey', table: 'users', bytes: 8192, scans: 3 }],
    cacheHit: { blocksHit: 990, blocksRead: 10, ratio: 0.99 },
    slowQueries: { available: true, thresholdMs: 1000, overThreshold: 1,
      top: [{ queryId: '-42', calls: 3, meanMs: 1500.5, totalMs: 4501.5, rows: 3, query: 'SELECT pg_sleep($1)' }] },
    migrations: { applied: 2, pending: 1, changed: 0, missing: 0, latest: '1764000000100-design-indexes', summary: '…' },
    ...over,
  };
}

describe('Prometheus text format', () => {
  test('every sample is sagactl_-prefixed, typed once, and parseable', () => {
    const text = renderPrometheus(sampleReport());
    const lines = text.trimEnd().split('\n');
    const typed = new Set<string>();
    for (const line of lines) {
      if (line.startsWith('# TYPE ')) {
        const [, , name, type] = line.split(' ');
        expect(typed.has(name)).toBe(false);
        expect(['gauge', 'counter']).toContain(type);
        typed.add(name);
      } else if (!line.startsWith('# HELP ')) {
        expect(line).toMatch(/^sagactl_[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?\d+(\.\d+)?(e[+-]?\d+)?$/);
        expect(typed.has(line.split(/[{ ]/)[0])).toBe(true);
      }
    }
    expect(text.endsWith('\n')).toBe(true);
    expect(lines).toEqual(expect.arrayContaining([
      'sagactl_db_up 1',
      'sagactl_db_connections{state="active"} 2',
      'sagactl_db_connections{state="idle"} 0',
      'sagactl_db_connections{state="idle in transaction"} 1',
      'sagactl_db_longest_transaction_seconds 75.5',
      'sagactl_db_lock_waits 1',
      'sagactl_db_longest_lock_wait_seconds 12.25',
      'sagactl_db_table_total_size_bytes{table="saga_states"} 3145728',
      'sagactl_db_index_size_bytes{index="users_pkey",table="users"} 8192',
      'sagactl_db_cache_hit_ratio 0.99',
      'sagactl_db_pg_stat_statements_available 1',
      'sagactl_db_slow_statements{threshold_ms="1000"} 1',
      'sagactl_db_slowest_statement_mean_seconds 1.5005',
      'sagactl_migrations_pending 1',
      'sagactl_health_timestamp_seconds 1795514400',
    ]));
    // No row estimate before ANALYZE: the sample is left out rather than invented.
    expect(text).not.toContain('sagactl_db_table_rows_estimate{table="users"}');
  });

  test('nothing happening reads 0; no statistics means no sample, never NaN', () => {
    const text = renderPrometheus(sampleReport({
      longTransactions: [], lockWaits: [], cacheHit: { blocksHit: 0, blocksRead: 0, ratio: null },
      slowQueries: { available: false, reason: 'not installed', hint: ENABLE_STATEMENTS_HINT },
    }));
    expect(text).toContain('sagactl_db_longest_transaction_seconds 0\n');
    expect(text).toContain('sagactl_db_lock_waits 0\n');
    expect(text).toContain('sagactl_db_pg_stat_statements_available 0\n');
    expect(text).not.toContain('sagactl_db_cache_hit_ratio');
    expect(text).not.toContain('sagactl_db_slow_statements');
    expect(text).not.toMatch(/NaN|undefined|null/);
  });

  test('label values are escaped', () => {
    expect(labelText({ a: 'x"y\\z\nw' })).toBe('{a="x\\"y\\\\z\\nw"}');
    expect(labelText({})).toBe('');
  });
});

describe('the human report', () => {
  test('sections with tables, and the way to enable pg_stat_statements when it is missing', () => {
    const sections = healthSections(sampleReport());
    expect(sections.map((s) => s.title)).toEqual([
      'database shop on PostgreSQL 15.20', 'connections by state', 'longest-running transactions', 'lock waits', 'tables', 'indexes',
      'slowest statements (pg_stat_statements; 1 with a mean of 1000 ms or more)']);
    expect(sections[0].lines).toEqual(['migrations: …', 'cache hit ratio: 99.00% (990 hits, 10 reads)', 'connections: 3 to this database, 7 of 100 on the server']);
    expect(sections[2].rows).toEqual([['1 min 16 s', 101, 'sagactl:saga-load', 'idle in transaction', 'UPDATE users SET ...']]);
    expect(sections[4].rows![1]).toEqual(['users', '?', '8.0 kB', '8.0 kB', '16.0 kB']);
    const missing = healthSections(sampleReport({ slowQueries: { available: false, reason: 'the extension is not installed', hint: ENABLE_STATEMENTS_HINT },
      lockWaits: [], tables: [] }));
    expect(missing[3].lines).toEqual(['nobody waits on a lock']);
    expect(missing[4].lines[0]).toContain('sagactl migrate up');
    expect(missing[6].lines.join('\n')).toMatch(/shared_preload_libraries = 'pg_stat_statements'[\s\S]*CREATE EXTENSION pg_stat_statements/);
  });

  test('sizes and ages', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 kB');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.0 GB');
    expect(formatSeconds(3.21)).toBe('3.2 s');
    expect(formatSeconds(3 * 3600 + 120)).toBe('3 h 2 min');
  });

  test('the migration line', () => {
    const applied = (name: string) => ({ name, checksum: 'c', appliedAt: new Date(), durationMs: 1, appliedBy: 'u', host: 'h' });
    expect(summariseMigrations({ applied: [applied('a'), applied('b')], pending: [], changed: [], missing: [] }))
      .toEqual({ applied: 2, pending: 0, changed: 0, missing: 0, latest: 'b', summary: '2 applied (latest b), up to date' });
    expect(summariseMigrations({ applied: [], pending: [{ name: 'a' }], changed: [], missing: [] }).summary)
      .toBe('0 applied, 1 pending: run `sagactl migrate status`');
    expect(summariseMigrations({ applied: [applied('a')], pending: [], changed: [{ name: 'a', recorded: 'x', current: 'y' }], missing: [{ name: 'z' }] }).summary)
      .toBe('1 applied (latest a), 1 changed since applied, 1 applied but missing from migrations/: run `sagactl migrate status`');
  });

  test('lock waits count from pg_locks.waitstart from PostgreSQL 14 on', () => {
    expect(lockWaitsSql(140000)).toContain('waitstart');
    expect(lockWaitsSql(130012)).not.toContain('waitstart');
  });
});

describe('--watch', () => {
  test('stops after maxIterations, a round every interval', async () => {
    const at: number[] = [];
    const n = await runWatch({ intervalMs: 30, maxIterations: 3 }, async () => { at.push(Date.now()); });
    expect(n).toBe(3);
    expect(at[2] - at[0]).toBeGreaterThanOrEqual(55);
  });

  test('an abort during a round ends the loop after it, without sleeping', async () => {
    const stop = new AbortController();
    const started = Date.now();
    expect(await runWatch({ intervalMs: 60_000, signal: stop.signal }, async () => stop.abort())).toBe(1);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  test('an abort during the sleep ends the loop promptly', async () => {
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 20);
    const started = Date.now();
    expect(await runWatch({ intervalMs: 60_000, signal: stop.signal }, async () => undefined)).toBe(1);
    expect(Date.now() - started).toBeLessThan(1000);
    const already = new AbortController();
    already.abort();
    expect(await runWatch({ intervalMs: 10, signal: already.signal }, async () => undefined)).toBe(0);
  });

  test('a failing round ends the watch with its error', async () => {
    await expect(runWatch({ intervalMs: 1 }, async (i) => { if (i === 1) throw new Error('db gone'); })).rejects.toThrow('db gone');
  });
});

describe('atomic file writes', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-health-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('replaces the file by rename (a new inode), leaves no temp file', () => {
    const file = path.join(dir, 'sagactl.prom');
    writeFileAtomic(file, 'a 1\n');
    const first = fs.statSync(file).ino;
    writeFileAtomic(file, 'a 2\n');
    expect(fs.readFileSync(file, 'utf8')).toBe('a 2\n');
    expect(fs.statSync(file).ino).not.toBe(first);
    expect(fs.readdirSync(dir)).toEqual(['sagactl.prom']);
  });

  test('a failed write leaves the old file and no temp file', () => {
    const file = path.join(dir, 'kept.prom');
    writeFileAtomic(file, 'old\n');
    fs.mkdirSync(path.join(dir, 'folder.prom'));
    expect(() => writeFileAtomic(path.join(dir, 'folder.prom'), 'x')).toThrow();
    expect(fs.readFileSync(file, 'utf8')).toBe('old\n');
    expect(fs.readdirSync(dir).sort()).toEqual(['folder.prom', 'kept.prom', 'sagactl.prom']);
  });
});

describe('bad values: exit 2, nothing written, no database touched', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-health-bad-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const env = { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/x' };

  test.each([
    [['--format', 'xml'], '--format must be one of table, json, prometheus, got "xml"'],
    [['--json', '--format', 'prometheus'], '--json and --format prometheus exclude each other'],
    [['--output', 'out.prom'], '--output writes --json or --format prometheus'],
    [['--format', 'prometheus', '--output', '/nonexistent-folder/x.prom'], 'the folder /nonexistent-folder does not exist'],
    [['--format', 'prometheus', '--output', os.tmpdir()], 'is a folder, not a file'],
    [['--format', 'prometheus', '--output', ''], '--output needs a file name'],
    [['--watch', '0'], '--watch must be from 1s to 24h, got "0"'],
    [['--watch', '500ms'], '--watch must be from 1s to 24h, got "500ms"'],
    [['--watch', '25h'], '--watch must be from 1s to 24h, got "25h"'],
    [['--watch', 'often'], '--watch must be a duration like 30s'],
    [['--watch', '-5s'], '--watch must be a duration like 30s'],
  ])('db health %j', async (args, message) => {
    const r = await runMain(['db', 'health', ...args.map((a) => a.replace('out.prom', path.join(dir, 'out.prom')))], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toContain('database:');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  test.each([['soon'], ['-5m'], ['']])('db check --stuck-after %j', async (value) => {
    const r = await runMain(['db', 'check', '--stuck-after', value], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--stuck-after must be a duration');
  });
});
