import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { createTestDb, TestDb } from '../support/database';
import { ROOT, runBin, runMain } from '../support/cli';
import { loadMigrations } from '../../src/migrate/loader';
import { LOCK_KEYS, LOCK_NAMESPACE } from '../../src/migrate/lock';

const count = loadMigrations().length;
let t: TestDb;
beforeEach(async () => { t = await createTestDb({ empty: true }); });
afterEach(async () => { await t.drop(); });

const env = () => ({ DATABASE_URL: t.url });
const history = () => t.db.query('SELECT name, checksum, applied_by, host, application_name, duration_ms FROM sagactl_migrations ORDER BY name');
const tables = async () => (await t.db.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`))[0].n;

test('four migrate up processes at once: all exit 0, every migration recorded once', async () => {
  const runs = await Promise.all([1, 2, 3, 4].map(() => runBin(['migrate', 'up', '--json'], env())));
  expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0]);
  const ran = runs.flatMap((r) => JSON.parse(r.stdout).ran.map((m: { name: string }) => m.name));
  expect(ran.sort()).toEqual(loadMigrations().map((m) => m.name).sort());
  const rows = await history();
  expect(rows).toHaveLength(count);
  expect(rows[0]).toMatchObject({ checksum: expect.stringMatching(/^[0-9a-f]{64}$/), host: os.hostname(),
    applied_by: os.userInfo().username, application_name: expect.stringMatching(/^sagactl:migrate-up:/) });
  const invalid = await t.db.query('SELECT count(*)::int AS n FROM pg_index WHERE NOT indisvalid');
  expect(invalid[0].n).toBe(0);
});

test('plan prints the SQL with transaction boundaries and writes nothing', async () => {
  const r = await runMain(['migrate', 'plan'], env());
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('BEGIN;');
  expect(r.stdout).toContain('COMMIT;');
  expect(r.stdout).toMatch(/outside a transaction[\s\S]*CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_saga_states_status/);
  expect(r.stdout).toContain('INSERT INTO sagactl_migrations');
  expect(await tables()).toBe(0);
  const json = JSON.parse((await runMain(['migrate', 'plan', '--json'], env())).stdout);
  expect(json.plan.map((p: { name: string }) => p.name)).toEqual(['(history table)', ...loadMigrations().map((m) => m.name)]);
  expect(await tables()).toBe(0);
});

test('status --check: exit 6 while pending, 0 once applied; validate and status name what changed', async () => {
  const pending = await runMain(['migrate', 'status', '--check', '--json'], env());
  expect(pending.code).toBe(6);
  expect(JSON.parse(pending.stdout)).toEqual({ applied: [], pending: loadMigrations().map((m) => ({ name: m.name })), changed: [], missing: [] });
  expect((await runMain(['migrate', 'up'], env())).code).toBe(0);
  expect((await runMain(['migrate', 'status', '--check'], env())).code).toBe(0);
  expect((await runMain(['migrate', 'validate'], env())).code).toBe(0);
  const human = await runMain(['migrate', 'status'], env());
  expect(human.stdout).toContain(`${count} applied, 0 pending, 0 changed`);
});

test('a changed migration source: status --check and validate exit 6, up refuses', async () => {
  expect((await runMain(['migrate', 'up'], env())).code).toBe(0);
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-copy-'));
  try {
    for (const dir of ['bin', 'dist', 'migrations', 'seeds']) fs.cpSync(path.join(ROOT, dir), path.join(copy, dir), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(copy, 'package.json'));
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
    const first = loadMigrations()[0].name;
    fs.appendFileSync(path.join(copy, 'migrations', `${first}.ts`), '\n// edited after it ran\n');
    const status = await runBin(['migrate', 'status', '--check', '--json'], env(), copy);
    expect(status.code).toBe(6);
    expect(JSON.parse(status.stdout).changed).toEqual([expect.objectContaining({ name: first })]);
    const validate = await runBin(['migrate', 'validate'], env(), copy);
    expect(validate.code).toBe(6);
    expect(validate.stdout).toContain(`changed ${first}`);
    const up = await runBin(['migrate', 'up'], env(), copy);
    expect(up.code).toBe(6);
    // The untouched checkout still validates.
    expect((await runMain(['migrate', 'validate'], env())).code).toBe(0);
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }
});

test('the lock: a held lock times out with exit 4 naming the holder; a waiter goes on once it is released', async () => {
  const holder = new Client({ connectionString: t.url, application_name: 'the-other-deploy' });
  await holder.connect();
  try {
    await holder.query('SELECT pg_advisory_lock($1, $2)', [LOCK_NAMESPACE, LOCK_KEYS.migrate]);
    const timedOut = await runMain(['migrate', 'up', '--lock-timeout', '1s'], env());
    expect(timedOut.code).toBe(4);
    expect(timedOut.stderr).toMatch(/migration lock, held by pid \d+ \(the-other-deploy/);
    expect(await tables()).toBe(0);
    const waiting = runMain(['migrate', 'up', '--lock-timeout', '20s'], env());
    await new Promise((r) => setTimeout(r, 300));
    await holder.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_NAMESPACE, LOCK_KEYS.migrate]);
    const done = await waiting;
    expect(done.code).toBe(0);
    expect(done.stderr).toContain('waiting for the migration lock');
  } finally {
    await holder.end();
  }
});

test('an INVALID index left by a failed build is dropped and rebuilt', async () => {
  expect((await runMain(['migrate', 'up'], env())).code).toBe(0);
  const indexes = loadMigrations().find((m) => !m.transactional)!;
  await t.db.query('DELETE FROM sagactl_migrations WHERE name = $1', [indexes.name]);
  await t.db.query(`UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'idx_saga_states_status'::regclass`);
  expect((await runMain(['migrate', 'up'], env())).code).toBe(0);
  const valid = await t.db.query(`SELECT indisvalid FROM pg_index WHERE indexrelid = 'idx_saga_states_status'::regclass`);
  expect(valid[0].indisvalid).toBe(true);
});

test('down: refuses without --yes off a terminal; --count and --to', async () => {
  expect((await runMain(['migrate', 'up'], env())).code).toBe(0);
  const refused = await runMain(['migrate', 'down'], env());
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain('--yes');
  expect(await history()).toHaveLength(count);
  const one = await runMain(['migrate', 'down', '--count', '1', '--yes', '--json'], env());
  expect(one.code).toBe(0);
  expect(await history()).toHaveLength(count - 1);
  expect((await runMain(['migrate', 'down', '--count', String(count + 5), '--yes'], env())).code).toBe(3);
  expect((await runMain(['migrate', 'down', '--to', '0', '--yes'], env())).code).toBe(0);
  expect(await history()).toHaveLength(0);
  expect((await runMain(['migrate', 'down', '--to', '0', '--yes'], env())).stdout).toContain('Nothing to revert');
  expect(await tables()).toBe(1); // only the history table is left
  expect((await runMain(['migrate', 'up'], env())).code).toBe(0);
  expect(await history()).toHaveLength(count);
});

describe('bad values: exit 2 and nothing written', () => {
  test.each([
    [['migrate', 'up', '--to', 'no-such-migration']],
    [['migrate', 'up', '--lock-timeout', 'xyz']],
    [['migrate', 'down', '--to', 'no-such-migration', '--yes']],
    [['migrate', 'down', '--count', '-1', '--yes']],
    [['migrate', 'down', '--count', 'abc', '--yes']],
    [['migrate', 'down', '--count', '1', '--to', '0', '--yes']],
    [['migrate', 'plan', '--to', 'nope']],
    [['migrate', 'create', 'Bad Name']],
    [['migrate', 'sideways']],
    [['migrate', 'up', '--no-such-option']],
    [['migrate', 'up', '--database-url', 'not-a-url']],
    [['migrate', 'up', '--database-url', 'mysql://root@127.0.0.1/x']],
    [['migrate', 'up', '--pool', '0']],
  ])('%j', async (argv) => {
    const r = await runMain(argv, env());
    expect(r.code).toBe(2);
    expect(r.stderr.length).toBeGreaterThan(0);
    expect(await tables()).toBe(0);
  });

  test('DB_PORT=abc is a configuration error', async () => {
    const r = await runMain(['migrate', 'status'], { DB_HOST: '127.0.0.1', DB_PORT: 'abc' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('DB_PORT');
  });

  test('an unreachable server (port 1) fails fast with exit 4', async () => {
    const started = Date.now();
    const r = await runMain(['migrate', 'up'], { DATABASE_URL: 'postgres://postgres:hunter2@127.0.0.1:1/x' });
    expect(r.code).toBe(4);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(r.stderr).not.toContain('hunter2');
    expect(r.stderr.split('\n')[0]).toBe('database: postgres://postgres:****@127.0.0.1:1/x (DATABASE_URL)');
  });

  test('an unknown database says how to create it (exit 4)', async () => {
    const r = await runMain(['migrate', 'status'], { DATABASE_URL: t.url.replace(/\/[^/]+$/, '/sagactl_does_not_exist') });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('createdb sagactl_does_not_exist');
  });
});

test('create writes a timestamped migration file', async () => {
  const { createMigrationFile } = await import('../../src/migrate/create');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-create-'));
  const created = createMigrationFile('add-user-email', dir, 1800000000000);
  expect(created.name).toBe('1800000000000-add-user-email');
  expect(fs.readFileSync(created.file, 'utf8')).toContain('export class AddUserEmail1800000000000 implements MigrationInterface');
  expect(() => createMigrationFile('add-user-email', dir, 1800000000000)).toThrow(/EEXIST/);
  fs.rmSync(dir, { recursive: true, force: true });
});
