import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import { Client } from 'pg';
import { admin, createTestDb, TestDb } from '../support/database';
import { BIN, ROOT, runMain } from '../support/cli';
import { scratchProject } from '../support/migrations';
import { loadMigrations } from '../../src/migrate/loader';
import { runUp } from '../../src/migrate/runner';
import { AppError } from '../../src/errors';

// Faults around migrations: held locks, an index build left running by a killed run, a role
// without CREATE, a migration out of order.
const names = loadMigrations().map((m) => m.name);
const [TABLES_MIGRATION, INDEX_MIGRATION] = names;

let t: TestDb;
beforeEach(async () => { t = await createTestDb({ empty: true }); });
afterEach(async () => { await t.drop(); });

const cli = (...argv: string[]) => runMain(argv, { DATABASE_URL: t.url });
const historyNames = async () => (await t.db.query(`SELECT to_regclass('sagactl_migrations') IS NOT NULL AS e`))[0].e
  ? (await t.db.query('SELECT name FROM sagactl_migrations ORDER BY name')).map((r) => r.name) : [];
const indexNames = async () => (await t.db.query(
  `SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'idx_%' ORDER BY 1`)).map((r) => r.relname);

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function session(applicationName: string): Promise<Client> {
  const c = new Client({ connectionString: t.url, application_name: applicationName });
  await c.connect();
  return c;
}

describe('DDL under a short lock_timeout', () => {
  test('a transactional migration behind a long transaction: retried, then exit 4 naming the blocker; rolled back whole', async () => {
    const project = scratchProject({
      '1800000000100-accounts': { up: `await q.query('CREATE TABLE accounts (id int PRIMARY KEY)');` },
      '1800000000200-accounts-note': {
        up: `await q.query('CREATE TABLE account_notes (id int)');\n    await q.query('ALTER TABLE accounts ADD COLUMN note text');`,
      },
    });
    const log: string[] = [];
    const deps = { db: t.db, migrations: project.migrations, lockTimeoutMs: 5000, log: (l: string) => log.push(l),
      ddlLockTimeoutMs: 200, ddlRetries: 2, backoffMs: () => 50 };
    const report = await session('nightly-report');
    try {
      await runUp(deps, { to: '1800000000100-accounts' });
      const pid = (await report.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      await report.query('BEGIN');
      await report.query('SELECT * FROM accounts');
      const err = await runUp(deps).catch((e) => e);
      expect(err).toBeInstanceOf(AppError);
      expect(err.exitCode).toBe(4);
      expect(err.message).toMatch(new RegExp(`^Migration 1800000000200-accounts-note \\(up\\) could not get its lock within 0.2s in 3 tries: ` +
        `blocked by pid ${pid} \\(nightly-report, user \\w+, in its transaction for [\\d.]+ s, idle in transaction: SELECT \\* FROM accounts\\) ` +
        '\\(rolled back, nothing recorded\\)\\.$'));
      expect(err.hint).toContain(`SELECT pg_terminate_backend(${pid});`);
      expect(log.filter((l) => l.includes('no lock within 0.2s'))).toHaveLength(2);
      // Nothing of it is left: not the table made before the ALTER, not its history row.
      expect(await t.db.query(`SELECT to_regclass('account_notes') AS t`)).toEqual([{ t: null }]);
      expect(await historyNames()).toEqual(['1800000000100-accounts']);

      // Once the transaction ends during the retries, the migration goes through.
      const again = runUp({ ...deps, ddlRetries: 20, backoffMs: () => 100 });
      await waitFor('a retry', async () => log.filter((l) => l.includes('no lock within')).length >= 3);
      await report.query('COMMIT');
      expect((await again).map((r) => r.name)).toEqual(['1800000000200-accounts-note']);
    } finally {
      await report.end();
      project.remove();
    }
  });

  test('the CLI: --ddl-lock-timeout and --ddl-retries; exit 4 naming the blocker, no index half built', async () => {
    expect((await cli('migrate', 'up', '--to', TABLES_MIGRATION)).code).toBe(0);
    const holder = await session('vacuum-job');
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE saga_states IN SHARE UPDATE EXCLUSIVE MODE');
      const pid = (await holder.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      const r = await cli('migrate', 'up', '--ddl-lock-timeout', '150ms', '--ddl-retries', '1');
      expect(r.code).toBe(4);
      expect(r.stderr).toContain(`Migration ${INDEX_MIGRATION} (up) could not get its lock within 0.15s in 2 tries: blocked by pid ${pid} (vacuum-job,`);
      expect(r.stderr).toContain('not recorded; it is safe to run again');
      expect(r.stderr).toMatch(/no lock within 0.15s .*trying again in/);
      expect(await indexNames()).toEqual([]);
      expect(await historyNames()).toEqual([TABLES_MIGRATION]);
    } finally {
      await holder.end();
    }
    expect((await cli('migrate', 'up')).code).toBe(0);
    expect(await historyNames()).toEqual(names);
  });
});

test('an index build left running by a killed migrate up: the next run waits for it (bounded), or says what to do', async () => {
  expect((await cli('migrate', 'up', '--to', TABLES_MIGRATION)).code).toBe(0);
  // An old snapshot makes CREATE INDEX CONCURRENTLY wait in its last phase, as a long report would.
  const report = await session('long-report');
  await report.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
  await report.query('SELECT count(*) FROM users');
  const child = spawn(process.execPath, [BIN, 'migrate', 'up', '--ddl-lock-timeout', '10m'], {
    cwd: ROOT, env: { ...process.env, DATABASE_URL: t.url, CI: '' }, stdio: 'ignore' });
  try {
    const builds = () => t.db.query(`SELECT p.pid FROM pg_stat_progress_create_index p JOIN pg_stat_activity a USING (pid)
                                      WHERE a.datname = current_database() AND a.application_name LIKE 'sagactl:migrate-up:%'`);
    await waitFor('the child to start building an index', async () => (await builds()).length > 0);
    const orphan = (await builds())[0].pid;
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    // The server goes on with the dead client's statement.
    await new Promise((r) => setTimeout(r, 300));
    expect((await builds()).map((b) => b.pid)).toEqual([orphan]);

    const refused = await cli('migrate', 'up', '--lock-timeout', '1s');
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain(`An index build is still running on the server after waiting 1s: pid ${orphan} (sagactl:migrate-up:`);
    expect(refused.stderr).toContain('CREATE INDEX CONCURRENTLY idx_saga_states_status on saga_states');
    expect(refused.stderr).toContain(`SELECT pg_cancel_backend(${orphan});`);
    expect(await historyNames()).toEqual([TABLES_MIGRATION]);

    const waiting = cli('migrate', 'up', '--lock-timeout', '60s');
    await waitFor('the run to wait for the build', async () => (await t.db.query(
      `SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'sagactl:migrate-up:%' AND query LIKE '%pg_stat_progress_create_index%'`)).length > 0);
    // Seen while its first look may still be running: let that look finish (and find the build) first.
    await new Promise((r) => setTimeout(r, 500));
    await report.query('COMMIT');
    const done = await waiting;
    expect(done.code).toBe(0);
    expect(done.stderr).toContain(`waiting for an index build still running on the server (left by an earlier run?): pid ${orphan}`);
    expect(await historyNames()).toEqual(names);
    expect((await t.db.query(`SELECT count(*)::int AS n FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                               WHERE c.relname LIKE 'idx_%' AND NOT i.indisvalid`))[0].n).toBe(0);
    expect(await indexNames()).toHaveLength(7);
  } finally {
    child.kill('SIGKILL');
    await report.end();
  }
});

describe('least privilege', () => {
  let role: string;
  let roleUrl: string;
  beforeEach(async () => {
    role = `sagactl_t_role_${crypto.randomBytes(3).toString('hex')}`;
    await admin((c) => c.query(`CREATE ROLE ${role} LOGIN`));
    const url = new URL(t.url);
    url.username = role;
    roleUrl = url.toString();
  });
  afterEach(async () => {
    await t.db.query(`DROP OWNED BY ${role}`);
    await admin((c) => c.query(`DROP ROLE ${role}`));
  });

  test('a role without CREATE on the schema: exit 4 naming the privilege and the grant; nothing created', async () => {
    const r = await runMain(['migrate', 'up'], { DATABASE_URL: roleUrl });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`The role "${role}" lacks the CREATE privilege on schema public`);
    expect(r.stderr).toContain(`GRANT CREATE ON SCHEMA public TO ${role};`);
    expect(await t.db.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)).toEqual([]);
  });

  test('a role that may create but does not own the tables: exit 4 naming the missing ownership, nothing recorded', async () => {
    expect((await cli('migrate', 'up', '--to', TABLES_MIGRATION)).code).toBe(0);
    await t.db.query(`GRANT CREATE ON SCHEMA public TO ${role}`);
    await t.db.query(`GRANT SELECT, INSERT, DELETE ON sagactl_migrations TO ${role}`);
    const r = await runMain(['migrate', 'up'], { DATABASE_URL: roleUrl });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`Migration ${INDEX_MIGRATION} (up) failed: Permission denied: must be owner of table saga_states.`);
    expect(r.stderr).toContain('The role lacks ownership of table saga_states.');
    expect(await historyNames()).toEqual([TABLES_MIGRATION]);
    await t.db.query(`REVOKE ALL ON SCHEMA public FROM ${role}`);
    const down = await runMain(['migrate', 'down', '--yes'], { DATABASE_URL: roleUrl });
    expect(down.code).toBe(4);
    expect(down.stderr).toContain('lacks the CREATE privilege');
  });
});

test('out of order: a pending migration older than the newest applied is refused (6) and flagged, unless allowed', async () => {
  expect((await cli('migrate', 'up')).code).toBe(0);
  // As if INDEX_MIGRATION had arrived from another branch after newer ones ran.
  await t.db.query('DELETE FROM sagactl_migrations WHERE name = $1', [INDEX_MIGRATION]);
  const status = await cli('migrate', 'status', '--check', '--json', '--no-drift');
  expect(status.code).toBe(6);
  expect(JSON.parse(status.stdout).outOfOrder).toEqual([{ name: INDEX_MIGRATION }]);
  expect((await cli('migrate', 'status')).stdout).toMatch(new RegExp(`^${INDEX_MIGRATION} +pending, OUT OF ORDER$`, 'm'));
  const up = await cli('migrate', 'up');
  expect(up.code).toBe(6);
  expect(up.stderr).toContain(`Out of order: ${INDEX_MIGRATION} is older than ${names[names.length - 1]}, which is already applied. Nothing was applied.`);
  expect(up.stderr).toContain('--allow-out-of-order');
  expect(await historyNames()).not.toContain(INDEX_MIGRATION);
  const allowed = await cli('migrate', 'up', '--allow-out-of-order', '--json');
  expect(allowed.code).toBe(0);
  expect(JSON.parse(allowed.stdout).ran.map((r: { name: string }) => r.name)).toEqual([INDEX_MIGRATION]);
  expect((await cli('migrate', 'status', '--check')).code).toBe(0);
});
