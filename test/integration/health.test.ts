import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { Client } from 'pg';
import { createTestDb, TestDb } from '../support/database';
import { BIN, ROOT, runMain } from '../support/cli';
import { loadFixtures } from '../../src/seed/fixtures';
import { acquireEmbedded, EmbeddedLease } from '../../src/db/embedded';
import { createDb, createPool } from '../../src/db/pool';
import { getHealth, getSlowQueries, HealthReport } from '../../src/health/health';
import { loadMigrations } from '../../src/migrate/loader';

let t: TestDb;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-health-it-'));
beforeAll(async () => {
  t = await createTestDb();
  await loadFixtures(t.db);
});
afterAll(async () => {
  await t.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const cli = (...argv: string[]) => runMain(argv, { DATABASE_URL: t.url });
/** The template every test database is cloned from is migrated to the last one. */
const MIGRATIONS = loadMigrations();
const LATEST = MIGRATIONS[MIGRATIONS.length - 1].name;

test('the report: this database\'s connections, the project\'s tables and indexes, cache hits, migrations', async () => {
  const r = await getHealth(t.db);
  expect(r.server.database).toBe(t.name);
  expect(r.server.versionNum).toBeGreaterThanOrEqual(130000);
  expect(r.connections.reduce((n, c) => n + c.count, 0)).toBeGreaterThanOrEqual(1);
  expect(r.tables.map((x) => x.table)).toEqual(expect.arrayContaining(['items', 'notifications', 'operator_audit', 'saga_events',
    'saga_states', 'saga_step_results', 'sagactl_migrations', 'transaction_logs', 'users']));
  expect(r.tables.every((x) => x.totalBytes >= x.tableBytes + x.indexBytes - 8192 * 4 && x.totalBytes > 0)).toBe(true);
  expect(r.indexes.map((i) => i.index)).toEqual(expect.arrayContaining(['idx_saga_states_status', 'users_pkey']));
  expect(r.cacheHit.blocksHit).toBeGreaterThan(0);
  expect(r.cacheHit.ratio).toBeGreaterThan(0);
  expect(r.cacheHit.ratio).toBeLessThanOrEqual(1);
  expect(r.migrations).toMatchObject({ applied: MIGRATIONS.length, pending: 0, changed: 0, missing: 0, latest: LATEST });
  expect(r.migrations.summary).toBe(`${MIGRATIONS.length} applied (latest ${LATEST}), up to date`);
  expect(r.longTransactions).toEqual([]);
  expect(r.lockWaits).toEqual([]);
});

test('a long transaction and the session it blocks: age, pids, application names, queries', async () => {
  const holder = new Client({ connectionString: t.url, application_name: 'health-test-holder' });
  const waiter = new Client({ connectionString: t.url, application_name: 'health-test-waiter' });
  await holder.connect();
  await waiter.connect();
  try {
    await holder.query('BEGIN');
    await holder.query(`UPDATE users SET name = name WHERE user_id = 'user-123'`);
    const holderPid = (await holder.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const waiterPid = (await waiter.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const blocked = waiter.query(`UPDATE users SET name = name WHERE user_id = 'user-123'`);
    let r: HealthReport;
    const deadline = Date.now() + 10_000;
    do {
      await new Promise((res) => setTimeout(res, 100));
      r = await getHealth(t.db);
    } while (r.lockWaits.length === 0 && Date.now() < deadline);
    expect(r.lockWaits).toEqual([expect.objectContaining({
      blockedPid: waiterPid, blockingPid: holderPid, blockedApplication: 'health-test-waiter',
      blockingApplication: 'health-test-holder', blockingState: 'idle in transaction',
      blockedQuery: `UPDATE users SET name = name WHERE user_id = 'user-123'`,
    })]);
    expect(r.lockWaits[0].waitSeconds).toBeGreaterThanOrEqual(0);
    const oldest = r.longTransactions.find((x) => x.pid === holderPid)!;
    expect(oldest).toMatchObject({ applicationName: 'health-test-holder', state: 'idle in transaction' });
    expect(oldest.ageSeconds).toBeGreaterThan(0);
    expect(r.connections).toEqual(expect.arrayContaining([{ state: 'idle in transaction', count: 1 }]));
    await holder.query('ROLLBACK');
    await blocked;
  } finally {
    await holder.end();
    await waiter.end();
  }
});

test('without pg_stat_statements: how to enable it, not a failure', async () => {
  const client = await t.db.pool.connect();
  try {
    const preloaded = (await client.query('SHOW shared_preload_libraries')).rows[0].shared_preload_libraries.includes('pg_stat_statements');
    const missing = await getSlowQueries(client);
    expect(missing).toMatchObject({ available: false, reason: expect.stringContaining('not installed') });
    expect(!missing.available && missing.hint).toMatch(/shared_preload_libraries[\s\S]*CREATE EXTENSION pg_stat_statements/);
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const installed = await getSlowQueries(client);
    // Installed but not preloaded: every query on the view fails with 55000, which we explain.
    if (!preloaded) expect(installed).toMatchObject({ available: false, reason: expect.stringContaining('not loaded') });
    await client.query('DROP EXTENSION pg_stat_statements');
  } finally {
    client.release();
  }
  const r = await cli('db', 'health');
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('CREATE EXTENSION pg_stat_statements');
});

describe('with pg_stat_statements loaded (an embedded server of its own)', () => {
  let lease: EmbeddedLease | undefined;
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-pss-'));
  afterAll(async () => {
    await lease?.release();
    fs.rmSync(home, { recursive: true, force: true });
  });

  test('slow statements by mean_exec_time, and their metrics', async () => {
    // ALTER SYSTEM, then a restart: the embedded server then starts with the library preloaded.
    lease = await acquireEmbedded(home, () => undefined);
    const admin = new Client({ connectionString: lease.url });
    await admin.connect();
    await admin.query(`ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'`);
    await admin.end();
    await lease.release();
    lease = await acquireEmbedded(home, () => undefined);
    const pool = createPool(lease.url, 2, 'health-test', 5000);
    try {
      const db = createDb(pool, lease.url);
      await db.query('CREATE EXTENSION pg_stat_statements');
      await db.query('SELECT pg_sleep(1.05)');
      const r = await getHealth(db);
      expect(r.slowQueries.available).toBe(true);
      if (!r.slowQueries.available) return;
      expect(r.slowQueries.overThreshold).toBeGreaterThanOrEqual(1);
      expect(r.slowQueries.top[0]).toMatchObject({ calls: 1, query: 'SELECT pg_sleep($1)' });
      expect(r.slowQueries.top[0].meanMs).toBeGreaterThanOrEqual(1000);
      // A database nobody migrated: no tables, everything pending.
      expect(r.tables).toEqual([]);
      expect(r.migrations).toMatchObject({ applied: 0, pending: MIGRATIONS.length });
      const prom = await runMain(['db', 'health', '--format', 'prometheus'], { DATABASE_URL: lease.url });
      expect(prom.code).toBe(0);
      expect(prom.stdout).toContain('sagactl_db_pg_stat_statements_available 1\n');
      expect(prom.stdout).toMatch(/sagactl_db_slow_statements\{threshold_ms="1000"\} [1-9]/);
      expect(prom.stdout).toContain(`sagactl_migrations_pending ${MIGRATIONS.length}\n`);
    } finally {
      await pool.end();
    }
  });
});

test('--json prints the report; --format prometheus --output writes the file atomically and prints nothing', async () => {
  const json = await cli('db', 'health', '--json');
  expect(json.code).toBe(0);
  const report = JSON.parse(json.stdout);
  expect(Object.keys(report)).toEqual(expect.arrayContaining(['connections', 'longTransactions', 'lockWaits', 'tables', 'indexes',
    'cacheHit', 'slowQueries', 'migrations']));
  const file = path.join(dir, 'sagactl.prom');
  const written = await cli('db', 'health', '--format', 'prometheus', '--output', file);
  expect(written.code).toBe(0);
  expect(written.stdout).toBe('');
  expect(written.stderr).toContain(`wrote ${file}`);
  const text = fs.readFileSync(file, 'utf8');
  expect(text).toContain('sagactl_db_up 1\n');
  expect(text).toContain(`sagactl_migrations_applied ${MIGRATIONS.length}\n`);
  expect(text).toMatch(/sagactl_db_table_total_size_bytes\{table="saga_states"\} \d+/);
  expect(fs.readdirSync(dir)).toEqual(['sagactl.prom']);
  const human = await cli('db', 'health');
  expect(human.stdout).toContain(`migrations: ${MIGRATIONS.length} applied (latest ${LATEST}), up to date`);
  expect(human.stdout).toContain('lock waits');
});

test('--watch redraws every N seconds until interrupted, then exits 0 at once', async () => {
  const child = spawn(process.execPath, [BIN, 'db', 'health', '--watch', '1', '--json'], {
    cwd: ROOT, env: { ...process.env, DATABASE_URL: t.url, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const deadline = Date.now() + 20_000;
  while (stdout.split('\n').filter(Boolean).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const interrupted = Date.now();
  child.kill('SIGINT');
  expect(await exited).toBe(0);
  expect(Date.now() - interrupted).toBeLessThan(3000);
  const rounds = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  expect(rounds.length).toBeGreaterThanOrEqual(2);
  expect(new Date(rounds[1].at).getTime() - new Date(rounds[0].at).getTime()).toBeGreaterThanOrEqual(900);
});
