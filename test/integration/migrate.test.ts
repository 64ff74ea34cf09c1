import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import type { QueryRunner } from 'typeorm';
import { createTestDb, TestDb } from '../support/database';
import { ROOT, runBin, runMain } from '../support/cli';
import { loadMigrations } from '../../src/migrate/loader';
import { LOCK_KEYS, LOCK_NAMESPACE } from '../../src/migrate/lock';
import { writeBuildManifest } from '../../src/migrate/build';

// The design's two migrations come first; the tests hold whatever follows them too.
const migrations = loadMigrations();
const names = migrations.map((m) => m.name);
const TABLES_MIGRATION = '1764000000000-create-tables';
const INDEX_MIGRATION = '1764000000100-design-indexes';
const NEWEST = names[names.length - 1];
const count = migrations.length;
/** The seven indexes of the design's section 3.1, as PostgreSQL prints them. */
const DESIGN_INDEX_NAMES = ['idx_saga_states_status', 'idx_saga_states_user_id', 'idx_saga_states_created_at',
  'idx_saga_step_results_transaction_id', 'idx_transaction_logs_user_id', 'idx_notifications_user_id_status', 'idx_saga_states_status_created_at'];
const DESIGN_INDEXES = [
  'CREATE INDEX idx_notifications_user_id_status ON public.notifications USING btree (user_id, status)',
  'CREATE INDEX idx_saga_states_created_at ON public.saga_states USING btree (created_at)',
  'CREATE INDEX idx_saga_states_status ON public.saga_states USING btree (status)',
  'CREATE INDEX idx_saga_states_status_created_at ON public.saga_states USING btree (status, created_at)',
  'CREATE INDEX idx_saga_states_user_id ON public.saga_states USING btree (user_id)',
  'CREATE INDEX idx_saga_step_results_transaction_id ON public.saga_step_results USING btree (transaction_id)',
  'CREATE INDEX idx_transaction_logs_user_id ON public.transaction_logs USING btree (user_id)',
];

let t: TestDb;
beforeEach(async () => { t = await createTestDb({ empty: true }); });
afterEach(async () => { await t.drop(); });

const env = () => ({ DATABASE_URL: t.url });
const cli = (...argv: string[]) => runMain(argv, env());
const history = () => t.db.query(
  `SELECT name, checksum, transactional, applied_by, host, application_name, duration_ms, now() - applied_at < interval '1 minute' AS recent
     FROM sagactl_migrations ORDER BY name`);
const historyNames = async () => (await history()).map((r) => r.name);
const tables = async () => (await t.db.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).map((r) => r.tablename);
const designIndexes = async () => (await t.db.query(
  `SELECT pg_get_indexdef(i.indexrelid) AS def, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE c.relname = ANY($1) ORDER BY c.relname`, [DESIGN_INDEX_NAMES])).map((r) => `${r.def}${r.indisvalid ? '' : ' INVALID'}`);
/** Everything a command could have written: tables, indexes, history. */
const snapshot = async () => ({
  tables: await tables(),
  indexes: await designIndexes(),
  history: (await tables()).includes('sagactl_migrations') ? await historyNames() : null,
});

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * True once a sagactl process is polling for the migration lock: its lock connection has asked who
 * holds it, and has its answer (idle after that query), so releasing now cannot race the question.
 */
const someoneWaitsForTheLock = async () => (await t.db.query(
  `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'sagactl:lock:%'
      AND query LIKE '%pg_locks%' AND state = 'idle'`)).length > 0;

test('up, down to zero, up again: the schema, its indexes and a history row per migration', async () => {
  const up = await cli('migrate', 'up', '--json');
  expect(up.code).toBe(0);
  expect(up.stderr.split('\n')[0]).toBe(`database: ${t.url} (DATABASE_URL)`);
  expect(JSON.parse(up.stdout).ran.map((r: { name: string; transactional: boolean }) => [r.name, r.transactional]))
    .toEqual(migrations.map((m) => [m.name, m.transactional]));
  expect(names.slice(0, 2)).toEqual([TABLES_MIGRATION, INDEX_MIGRATION]);
  expect(migrations.slice(0, 2).map((m) => m.transactional)).toEqual([true, false]);
  expect(await tables()).toEqual(expect.arrayContaining(['items', 'notifications', 'operator_audit', 'saga_events', 'saga_states',
    'saga_step_results', 'sagactl_migrations', 'transaction_logs', 'users']));
  expect(await designIndexes()).toEqual(DESIGN_INDEXES);

  const rows = await history();
  expect(rows.map((r) => r.name)).toEqual(names);
  rows.forEach((row, i) => {
    expect(row).toEqual({
      name: names[i], checksum: migrations[i].checksum, transactional: migrations[i].transactional,
      applied_by: os.userInfo().username, host: os.hostname(), application_name: expect.stringMatching(new RegExp(`^sagactl:migrate-up:${os.hostname()}`)),
      duration_ms: expect.any(Number), recent: true,
    });
    expect(row.duration_ms).toBeGreaterThanOrEqual(0);
  });

  const again = await cli('migrate', 'up');
  expect(again.code).toBe(0);
  expect(again.stdout).toContain('Nothing to apply: the schema is up to date.');
  expect(await history()).toEqual(rows);

  const down = await cli('migrate', 'down', '--to', '0', '--yes', '--json');
  expect(down.code).toBe(0);
  expect(JSON.parse(down.stdout).ran.map((r: { name: string }) => r.name)).toEqual([...names].reverse());
  expect(await tables()).toEqual(['sagactl_migrations']);
  expect(await designIndexes()).toEqual([]);
  expect(await history()).toEqual([]);

  expect((await cli('migrate', 'up')).code).toBe(0);
  expect(await historyNames()).toEqual(names);
  expect(await designIndexes()).toEqual(DESIGN_INDEXES);
});

test('four migrate up processes at once: all exit 0, every migration applied and recorded exactly once', async () => {
  const runs = await Promise.all([1, 2, 3, 4].map(() => runBin(['migrate', 'up', '--json'], env())));
  expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0]);
  for (const r of runs) expect(r.stderr.split('\n')[0]).toBe(`database: ${t.url} (DATABASE_URL)`);
  const ran = runs.flatMap((r) => JSON.parse(r.stdout).ran.map((m: { name: string }) => m.name));
  expect(ran.sort()).toEqual([...names].sort());
  const rows = await t.db.query('SELECT name, count(*)::int AS n FROM sagactl_migrations GROUP BY name ORDER BY name');
  expect(rows).toEqual(names.map((name) => ({ name, n: 1 })));
  expect(await designIndexes()).toEqual(DESIGN_INDEXES);
});

describe('migrate plan', () => {
  test('on an empty database: the whole SQL, BEGIN/COMMIT around the transactional migration, CONCURRENTLY outside; nothing written', async () => {
    const before = await t.db.query(`SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace`);
    const r = await cli('migrate', 'plan');
    expect(r.code).toBe(0);
    const blocks = r.stdout.trim().split('\n\n');
    expect(blocks).toHaveLength(1 + count);
    const [history, tablesBlock, indexBlock] = blocks;
    expect(history).toMatch(/^-- \(history table\): outside a transaction[^\n]*\nCREATE TABLE IF NOT EXISTS sagactl_migrations/);
    const lines = tablesBlock.split('\n');
    expect(lines[0]).toBe(`-- ${TABLES_MIGRATION}: one transaction`);
    expect(lines[1]).toBe('BEGIN;');
    expect(lines[lines.length - 1]).toBe('COMMIT;');
    expect(tablesBlock).toMatch(/CREATE TABLE users[\s\S]*INSERT INTO sagactl_migrations[\s\S]*COMMIT;$/);
    expect(indexBlock).toMatch(new RegExp(`^-- ${INDEX_MIGRATION}: outside a transaction, statement by statement`));
    expect(indexBlock).not.toContain('BEGIN;');
    expect(indexBlock.match(/CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_\w+ ON \w+ \([\w, ]+\);/g)).toHaveLength(7);
    expect(indexBlock).toContain('INSERT INTO sagactl_migrations');

    const json = JSON.parse((await cli('migrate', 'plan', '--json')).stdout);
    expect(json.plan.map((p: { name: string; transactional: boolean }) => [p.name, p.transactional]))
      .toEqual([['(history table)', false], ...migrations.map((m) => [m.name, m.transactional])]);
    expect(json.plan[1].statements[0]).toEqual({ sql: 'BEGIN' });
    expect(json.plan[1].statements.at(-1)).toEqual({ sql: 'COMMIT' });
    expect(json.plan[2].statements.at(-1).params.slice(0, 3)).toEqual([INDEX_MIGRATION, migrations[1].checksum, false]);

    // status and validate only read, too.
    expect((await cli('migrate', 'status')).code).toBe(0);
    expect((await cli('migrate', 'validate')).code).toBe(0);
    expect(await t.db.query(`SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace`)).toEqual(before);
    expect(await tables()).toEqual([]);
  });

  test('on a partly migrated database: only what is pending, and still nothing written', async () => {
    expect((await cli('migrate', 'up', '--to', TABLES_MIGRATION)).code).toBe(0);
    expect(await historyNames()).toEqual([TABLES_MIGRATION]);
    const stats = () => t.db.query(`SELECT n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables WHERE relname = 'sagactl_migrations'`);
    const before = { ...(await snapshot()), stats: await stats() };
    const r = await cli('migrate', 'plan', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).plan.map((p: { name: string }) => p.name)).toEqual(names.slice(1));
    expect((await cli('migrate', 'plan')).stdout).not.toContain('CREATE TABLE users');
    expect({ ...(await snapshot()), stats: await stats() }).toEqual(before);

    const upToDate = await cli('migrate', 'up');
    expect(upToDate.code).toBe(0);
    expect((await cli('migrate', 'plan')).stdout.trim()).toBe('-- nothing to apply');
  });
});

describe('checks: status --check and validate', () => {
  test('status --check exits 6 while anything is pending, 0 once all is applied', async () => {
    const pending = await cli('migrate', 'status', '--check', '--json');
    expect(pending.code).toBe(6);
    expect(JSON.parse(pending.stdout)).toEqual({ applied: [], pending: names.map((name) => ({ name })), changed: [], missing: [], outOfOrder: [],
      adopt: null, drift: { ok: true, basedOn: [], missingFiles: [], differences: [], sql: [], scratchServer: t.url } });
    expect((await cli('migrate', 'up', '--to', TABLES_MIGRATION)).code).toBe(0);
    const half = await cli('migrate', 'status', '--check');
    expect(half.code).toBe(6);
    expect(half.stdout).toContain(`1 applied, ${count - 1} pending, 0 changed`);
    expect((await cli('migrate', 'up')).code).toBe(0);
    expect((await cli('migrate', 'status', '--check')).code).toBe(0);
    const validate = await cli('migrate', 'validate', '--json');
    expect(validate.code).toBe(0);
    expect(JSON.parse(validate.stdout)).toEqual({ ok: true, changed: [], missing: [] });
    const human = await cli('migrate', 'status');
    expect(human.stdout).toContain(`${count} applied, 0 pending, 0 changed`);
    expect(human.stdout).toContain(`${os.userInfo().username}@${os.hostname()}`);
  });

  test('a changed migration source (a real copy of the project): status --check and validate exit 6, up refuses', async () => {
    expect((await cli('migrate', 'up', '--to', TABLES_MIGRATION)).code).toBe(0);
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-copy-'));
    try {
      for (const dir of ['bin', 'dist', 'migrations', 'seeds']) fs.cpSync(path.join(ROOT, dir), path.join(copy, dir), { recursive: true });
      fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(copy, 'package.json'));
      fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
      // The copy is sound before the edit.
      expect((await runBin(['migrate', 'validate'], env(), copy)).code).toBe(0);
      fs.appendFileSync(path.join(copy, 'migrations', `${TABLES_MIGRATION}.ts`), '\n// edited after it ran\n');
      // Not built since: what would run is not what the source says, so every command refuses first.
      for (const argv of [['migrate', 'status'], ['migrate', 'validate'], ['migrate', 'up'], ['migrate', 'plan']]) {
        const stale = await runBin(argv, env(), copy);
        expect([argv, stale.code]).toEqual([argv, 6]);
        expect(stale.stderr).toContain(`The build is stale: ${TABLES_MIGRATION} (source changed since the build)`);
        expect(stale.stderr).toContain('Run `npm run build`');
      }
      writeBuildManifest(copy);

      const status = await runBin(['migrate', 'status', '--check', '--json'], env(), copy);
      expect(status.code).toBe(6);
      expect(JSON.parse(status.stdout).changed).toEqual([{ name: TABLES_MIGRATION, recorded: migrations[0].checksum, current: expect.not.stringMatching(migrations[0].checksum) }]);
      const validate = await runBin(['migrate', 'validate'], env(), copy);
      expect(validate.code).toBe(6);
      expect(validate.stdout).toContain(`changed ${TABLES_MIGRATION}: recorded ${migrations[0].checksum}`);
      const human = await runBin(['migrate', 'status'], env(), copy);
      expect(human.stdout).toMatch(new RegExp(`^${TABLES_MIGRATION} +CHANGED `, 'm'));

      // up refuses, even though the pending index migration is untouched; so does plan.
      const up = await runBin(['migrate', 'up'], env(), copy);
      expect(up.code).toBe(6);
      expect(up.stderr).toContain(`Applied migrations were changed since they ran: ${TABLES_MIGRATION}.`);
      expect((await runBin(['migrate', 'plan'], env(), copy)).code).toBe(6);
      expect(await historyNames()).toEqual([TABLES_MIGRATION]);
      expect(await designIndexes()).toEqual([]);

      // A CRLF checkout of the same sources is not a change.
      fs.copyFileSync(path.join(ROOT, 'migrations', `${TABLES_MIGRATION}.ts`), path.join(copy, 'migrations', `${TABLES_MIGRATION}.ts`));
      const file = path.join(copy, 'migrations', `${TABLES_MIGRATION}.ts`);
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/\n/g, '\r\n'));
      // ...nor a stale build: the manifest of the LF build (restored as built) still matches it.
      fs.copyFileSync(path.join(ROOT, 'dist', 'migrations', 'build-manifest.json'), path.join(copy, 'dist', 'migrations', 'build-manifest.json'));
      expect((await runBin(['migrate', 'validate'], env(), copy)).code).toBe(0);

      // A migration created but not built is a stale build that says to build, not a crash.
      const created = await runBin(['migrate', 'create', 'add-user-email', '--json'], env(), copy);
      expect(created.code).toBe(0);
      expect(JSON.parse(created.stdout).file).toMatch(new RegExp(`^${copy}/migrations/\\d{13}-add-user-email\\.ts$`));
      const unbuilt = await runBin(['migrate', 'status'], env(), copy);
      expect(unbuilt.code).toBe(6);
      expect(unbuilt.stderr).toMatch(/The build is stale: \d{13}-add-user-email \(not compiled\)[\s\S]*npm run build/);
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
    // The untouched checkout still validates, and nothing new was written.
    expect((await cli('migrate', 'validate')).code).toBe(0);
    expect(fs.readdirSync(path.join(ROOT, 'migrations')).filter((f) => f.includes('add-user-email'))).toEqual([]);
  });

  test('an applied migration whose file is gone: status --check and validate exit 6, down cannot revert it (3)', async () => {
    expect((await cli('migrate', 'up')).code).toBe(0);
    await t.db.query(`INSERT INTO sagactl_migrations (name, checksum, transactional, duration_ms, applied_by, host, application_name)
                      VALUES ('1800000000000-from-another-branch', repeat('0', 64), true, 1, 'x', 'y', 'z')`);
    const status = await cli('migrate', 'status', '--check', '--json');
    expect(status.code).toBe(6);
    expect(JSON.parse(status.stdout).missing).toEqual([{ name: '1800000000000-from-another-branch' }]);
    expect((await cli('migrate', 'status')).stdout).toContain('MISSING FILE');
    const validate = await cli('migrate', 'validate');
    expect(validate.code).toBe(6);
    expect(validate.stdout).toContain('missing 1800000000000-from-another-branch: applied, but its file is gone');
    const down = await cli('migrate', 'down', '--yes');
    expect(down.code).toBe(3);
    expect(down.stderr).toContain('Applied migration 1800000000000-from-another-branch has no file');
    expect((await history()).length).toBe(count + 1);
  });
});

describe('the migration lock', () => {
  test('held elsewhere: up and down time out with exit 4 naming the holder, and write nothing', async () => {
    expect((await cli('migrate', 'up', '--to', TABLES_MIGRATION)).code).toBe(0);
    const holder = new Client({ connectionString: t.url, application_name: 'the-other-deploy' });
    await holder.connect();
    try {
      const pid = (await holder.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      await holder.query('SELECT pg_advisory_lock($1, $2)', [LOCK_NAMESPACE, LOCK_KEYS.migrate]);
      const before = await snapshot();
      const up = await cli('migrate', 'up', '--lock-timeout', '1s');
      expect(up.code).toBe(4);
      expect(up.stderr).toContain(`error: Timed out after 1s waiting for the migration lock, held by pid ${pid} (the-other-deploy, user `);
      expect(up.stderr).toContain('raise --lock-timeout');
      const down = await cli('migrate', 'down', '--yes', '--lock-timeout', '500ms');
      expect(down.code).toBe(4);
      expect(down.stderr).toContain(`held by pid ${pid} (the-other-deploy`);
      expect(await snapshot()).toEqual(before);
    } finally {
      await holder.end();
    }
  });

  test('a waiter goes on once the lock is released, and says whom it waited for', async () => {
    const holder = new Client({ connectionString: t.url, application_name: 'the-other-deploy' });
    await holder.connect();
    let released = false;
    try {
      await holder.query('SELECT pg_advisory_lock($1, $2)', [LOCK_NAMESPACE, LOCK_KEYS.migrate]);
      const waiting = cli('migrate', 'up', '--lock-timeout', '30s');
      await waitFor('the waiter to poll the lock', someoneWaitsForTheLock);
      expect(await tables()).toEqual([]);
      await holder.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_NAMESPACE, LOCK_KEYS.migrate]);
      released = true;
      const done = await waiting;
      expect(done.code).toBe(0);
      expect(done.stderr).toMatch(/waiting for the migration lock, held by pid \d+ \(the-other-deploy/);
      expect(await historyNames()).toEqual(names);
    } finally {
      if (!released) await holder.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
      await holder.end();
    }
  });

  test('down reverts what it chose, or nothing: a history changed while it waited for the lock is refused (3)', async () => {
    expect((await cli('migrate', 'up')).code).toBe(0);
    const holder = new Client({ connectionString: t.url, application_name: 'another-operator' });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1, $2)', [LOCK_NAMESPACE, LOCK_KEYS.migrate]);
      // This command chooses the newest migration, then waits for the lock...
      const waiting = cli('migrate', 'down', '--count', '1', '--yes', '--lock-timeout', '30s');
      await waitFor('the down to poll the lock', someoneWaitsForTheLock);
      // ...while another operator, holding the lock, reverts that very migration.
      const runner = { query: async (sql: string, params?: unknown[]) => (await holder.query(sql, params)).rows } as unknown as QueryRunner;
      await migrations[count - 1].instance.down(runner);
      await holder.query('DELETE FROM sagactl_migrations WHERE name = $1', [NEWEST]);
      await holder.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_NAMESPACE, LOCK_KEYS.migrate]);
      const done = await waiting;
      // "--count 1" would now mean the migration before it, which nobody chose to revert.
      expect(done.code).toBe(3);
      expect(done.stderr).toContain(`it would now revert ${names[count - 2]} instead of ${NEWEST}. Nothing was reverted.`);
      expect(await historyNames()).toEqual(names.slice(0, -1));
      expect(await tables()).toContain('users');
    } finally {
      await holder.end();
    }
  });
});

test('an INVALID index left by a failed CREATE INDEX CONCURRENTLY is dropped and built again; a valid one is kept', async () => {
  expect((await cli('migrate', 'up', '--to', TABLES_MIGRATION)).code).toBe(0);
  // A build that died half way: a concurrent unique build over duplicates fails and leaves its index INVALID.
  await t.db.query(`INSERT INTO saga_states (transaction_id, status, user_id, item_id, quantity, price, mode)
                    VALUES ('t1', 'pending', 'u', 'i', 1, 1.00, 'orchestration'), ('t2', 'pending', 'u', 'i', 1, 1.00, 'orchestration')`);
  await expect(t.db.query('CREATE UNIQUE INDEX CONCURRENTLY idx_saga_states_status ON saga_states (status)')).rejects.toThrow(/could not create unique index/);
  // And one the crashed run had already finished.
  await t.db.query('CREATE INDEX CONCURRENTLY idx_saga_states_user_id ON saga_states (user_id)');
  const oid = async (name: string) => (await t.db.query(`SELECT $1::regclass::oid::int AS oid`, [name]))[0].oid;
  const finishedOid = await oid('idx_saga_states_user_id');
  expect(await designIndexes()).toEqual([
    'CREATE UNIQUE INDEX idx_saga_states_status ON public.saga_states USING btree (status) INVALID',
    'CREATE INDEX idx_saga_states_user_id ON public.saga_states USING btree (user_id)',
  ]);

  const up = await cli('migrate', 'up');
  expect(up.code).toBe(0);
  expect(await designIndexes()).toEqual(DESIGN_INDEXES);
  expect(await oid('idx_saga_states_user_id')).toBe(finishedOid);
  expect(await historyNames()).toEqual(names);
});

test('down: refuses without --yes off a terminal; --count and --to; more than applied is exit 3', async () => {
  expect((await cli('migrate', 'up')).code).toBe(0);
  const refused = await cli('migrate', 'down');
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain('stdin is not a terminal');
  expect(refused.stderr).toContain('--yes');
  // The refusal names exactly what would be reverted, with its SQL.
  expect(refused.stderr).toContain(`This would revert ${NEWEST} (newest first; the SQL is above)`);
  expect(refused.stderr).toContain(`-- ${NEWEST}: `);
  expect(refused.stderr).toContain(`DELETE FROM sagactl_migrations WHERE name = $1;  -- params: ["${NEWEST}"]`);

  // --dry-run: the same, on stdout, and nothing changes.
  const dry = await cli('migrate', 'down', '--to', '0', '--dry-run');
  expect(dry.code).toBe(0);
  expect(dry.stdout.split('\n')[0]).toBe(`-- would revert, newest first: ${[...names].reverse().join(', ')}`);
  expect(dry.stdout).toContain(`-- ${INDEX_MIGRATION}: outside a transaction, statement by statement\nSELECT set_config('lock_timeout', $1, false);  -- params: ["5000ms"]`);
  expect(dry.stdout).toContain('DROP INDEX CONCURRENTLY IF EXISTS idx_saga_states_status;');
  const dryJson = JSON.parse((await cli('migrate', 'down', '--count', '1', '--dry-run', '--json', '--ddl-lock-timeout', '2s')).stdout);
  expect(dryJson.dryRun).toBe(true);
  expect(dryJson.revert).toEqual([NEWEST]);
  // The newest migration's own shape: one transaction, or (an index built CONCURRENTLY) statement by statement.
  const record = { sql: 'DELETE FROM sagactl_migrations WHERE name = $1', params: [NEWEST] };
  const { statements, transactional } = dryJson.plan[0];
  expect(statements.slice(0, transactional ? 2 : 1)).toEqual(transactional
    ? [{ sql: 'BEGIN' }, { sql: `SELECT set_config('lock_timeout', $1, true)`, params: ['2000ms'] }]
    : [{ sql: `SELECT set_config('lock_timeout', $1, false)`, params: ['2000ms'] }]);
  expect(statements.slice(transactional ? -2 : -1)).toEqual(transactional ? [record, { sql: 'COMMIT' }] : [record]);
  expect(await historyNames()).toEqual(names);
  expect((await cli('migrate', 'down', '--to', '0')).code).toBe(2);
  expect(await designIndexes()).toEqual(DESIGN_INDEXES);

  const one = await cli('migrate', 'down', '--count', '1', '--yes');
  expect(one.code).toBe(0);
  expect(one.stdout).toMatch(new RegExp(`^reverted ${NEWEST} \\(\\d+ ms\\)`));
  expect(await historyNames()).toEqual(names.slice(0, -1));
  const toTables = await cli('migrate', 'down', '--to', TABLES_MIGRATION, '--yes', '--json');
  expect(JSON.parse(toTables.stdout).ran.map((r: { name: string }) => r.name)).toEqual(names.slice(1, -1).reverse());
  expect(await historyNames()).toEqual([TABLES_MIGRATION]);
  expect(await designIndexes()).toEqual([]);
  const tooMany = await cli('migrate', 'down', '--count', String(count + 5), '--yes');
  expect(tooMany.code).toBe(3);
  expect(tooMany.stderr).toContain(`Cannot revert ${count + 5} migration(s): 1 applied.`);
  expect(await historyNames()).toEqual([TABLES_MIGRATION]);
  expect((await cli('migrate', 'down', '--to', TABLES_MIGRATION, '--yes')).stdout).toContain('Nothing to revert.');
  expect((await cli('migrate', 'down', '--to', '0', '--yes')).code).toBe(0);
  expect((await cli('migrate', 'down', '--to', '0', '--yes')).stdout).toContain('Nothing to revert');
  expect(await tables()).toEqual(['sagactl_migrations']);
});

describe('bad values: exit 2 and nothing written', () => {
  const BAD: [string[], RegExp][] = [
    [['migrate', 'up', '--to', 'no-such-migration'], /--to names no migration: "no-such-migration"/],
    [['migrate', 'up', '--lock-timeout', 'xyz'], /--lock-timeout must be a duration/],
    [['migrate', 'up', '--lock-timeout', '-1s'], /--lock-timeout must be a duration/],
    [['migrate', 'down', '--to', 'no-such-migration', '--yes'], /--to names no applied migration: "no-such-migration"/],
    [['migrate', 'down', '--to', INDEX_MIGRATION.replace(/\d{13}/, '1900000000000'), '--yes'], /--to names no applied migration/],
    [['migrate', 'down', '--count', '-1', '--yes'], /--count must be a whole number from 1/],
    [['migrate', 'up', '--ddl-lock-timeout', 'xyz'], /--ddl-lock-timeout must be a duration/],
    [['migrate', 'up', '--ddl-lock-timeout', '0'], /--ddl-lock-timeout must be more than 0/],
    [['migrate', 'up', '--ddl-retries', '-1'], /--ddl-retries must be a whole number from 0 to 20/],
    [['migrate', 'up', '--ddl-retries', '21'], /--ddl-retries must be a whole number from 0 to 20/],
    [['migrate', 'down', '--yes', '--ddl-retries', 'x'], /--ddl-retries must be a whole number/],
    [['migrate', 'down', '--dry-run', '--ddl-lock-timeout', '-5s'], /--ddl-lock-timeout must be a duration/],
    [['migrate', 'plan', '--ddl-lock-timeout', 'soon'], /--ddl-lock-timeout must be a duration/],
    [['migrate', 'status', '--check', '--scratch-url', 'nope'], /--scratch-url must be a postgres:\/\/ URL/],
    [['migrate', 'diff', '--scratch-url', 'mysql://x/y'], /--scratch-url must be a postgres:\/\/ URL/],
    [['migrate', 'lint', '--format', 'xml'], /--format must be one of text, json, github/],
    [['migrate', 'baseline', '--to', 'no-such-migration', '--yes'], /--to names no migration: "no-such-migration"/],
    [['migrate', 'baseline', '--yes', '--lock-timeout', 'never'], /--lock-timeout must be a duration/],
    [['migrate', 'down', '--count', '0', '--yes'], /--count must be a whole number from 1/],
    [['migrate', 'down', '--count', 'abc', '--yes'], /--count must be a whole number/],
    [['migrate', 'down', '--count', '1', '--to', '0', '--yes'], /Give --count or --to, not both/],
    [['migrate', 'down', '--yes', '--lock-timeout', 'xyz'], /--lock-timeout must be a duration/],
    [['migrate', 'plan', '--to', 'nope'], /--to names no migration/],
    [['migrate', 'create', 'Bad Name'], /A migration name is lower-case/],
    [['migrate', 'create', 'a--b'], /A migration name is lower-case/],
    [['migrate', 'sideways'], /unknown command 'sideways'/],
    [['migrate', 'up', '--no-such-option'], /unknown option '--no-such-option'/],
    [['migrate', 'down', '--count'], /argument missing/],
  ];

  test('on an empty database every one of them creates nothing, not even the history table', async () => {
    for (const [argv, message] of BAD) {
      const r = await runMain(argv, env());
      expect([argv, r.code]).toEqual([argv, 2]);
      expect(r.stderr).toMatch(message);
    }
    expect(await tables()).toEqual([]);
  });

  test('on a migrated database every one of them leaves the schema and its history as they were', async () => {
    expect((await cli('migrate', 'up')).code).toBe(0);
    const before = await snapshot();
    for (const [argv, message] of BAD) {
      const r = await runMain(argv, env());
      expect([argv, r.code]).toEqual([argv, 2]);
      expect(r.stderr).toMatch(message);
    }
    expect(await snapshot()).toEqual(before);
    expect(fs.readdirSync(path.join(ROOT, 'migrations')).filter((f) => f.endsWith('.ts'))).toEqual(names.map((n) => `${n}.ts`));
  });
});

test('the history records the checksum of the source and of the compiled file that ran (the built CLI)', async () => {
  const compiled = loadMigrations(ROOT, { compiled: true });
  const up = await runBin(['migrate', 'up'], env());
  expect(up.code).toBe(0);
  const rows = await t.db.query('SELECT name, checksum, compiled_checksum, baselined_from FROM sagactl_migrations ORDER BY name');
  expect(rows).toEqual(compiled.map((m) => ({ name: m.name, checksum: m.checksum, compiled_checksum: m.compiledChecksum, baselined_from: null })));
  expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.compiled_checksum) && r.compiled_checksum !== r.checksum)).toBe(true);
  const status = JSON.parse((await cli('migrate', 'status', '--json')).stdout);
  expect(status.applied.map((a: { compiledChecksum: string }) => a.compiledChecksum)).toEqual(compiled.map((m) => m.compiledChecksum));
});

test('a history table made by an earlier sagactl gains the new columns on the next up, and is read before that', async () => {
  expect((await cli('migrate', 'up', '--to', TABLES_MIGRATION)).code).toBe(0);
  await t.db.query('ALTER TABLE sagactl_migrations DROP COLUMN compiled_checksum, DROP COLUMN baselined_from');
  const status = JSON.parse((await cli('migrate', 'status', '--json')).stdout);
  expect(status.applied).toEqual([expect.objectContaining({ name: TABLES_MIGRATION, compiledChecksum: null, baselinedFrom: null })]);
  expect((await cli('migrate', 'up')).code).toBe(0);
  expect((await t.db.query(`SELECT count(*)::int AS n FROM information_schema.columns
                             WHERE table_name = 'sagactl_migrations' AND column_name IN ('compiled_checksum', 'baselined_from')`))[0].n).toBe(2);
  expect(await historyNames()).toEqual(names);
});
