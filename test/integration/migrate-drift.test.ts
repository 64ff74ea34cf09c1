import crypto from 'node:crypto';
import { Client } from 'pg';
import { admin, createTestDb, TestDb } from '../support/database';
import { runMain } from '../support/cli';
import { loadMigrations } from '../../src/migrate/loader';

// Drift: the live schema against what its applied migrations make, built in a scratch database.
const names = loadMigrations().map((m) => m.name);

let t: TestDb;
beforeEach(async () => { t = await createTestDb(); });
afterEach(async () => { await t.drop(); });

const cli = (...argv: string[]) => runMain(argv, { DATABASE_URL: t.url });
const diffJson = async () => {
  const r = await cli('migrate', 'diff', '--json');
  return { code: r.code, report: JSON.parse(r.stdout), stderr: r.stderr };
};
/** Runs the SQL `diff` printed, as an operator who reviewed it would. */
async function reconcile(): Promise<void> {
  const { report } = await diffJson();
  for (const sql of report.sql) await t.db.query(sql);
}

test('a migrated database matches its migrations: diff and status --check exit 0', async () => {
  const diff = await cli('migrate', 'diff');
  expect(diff.code).toBe(0);
  expect(diff.stdout).toBe(`The schema matches its ${names.length} applied migration(s).\n`);
  expect(diff.stderr).toContain(`checking the schema against ${names.length} applied migration(s), built in a scratch database on ${t.url}`);
  const status = await cli('migrate', 'status', '--check', '--json');
  expect(status.code).toBe(0);
  expect(JSON.parse(status.stdout).drift).toEqual({ ok: true, basedOn: names, missingFiles: [], differences: [], sql: [], scratchServer: t.url });
});

test('a column added by hand: extra column, exit 6 from diff and status --check; the printed SQL undoes it', async () => {
  await t.db.query(`ALTER TABLE users ADD COLUMN nickname text DEFAULT 'x'`);
  const { code, report } = await diffJson();
  expect(code).toBe(6);
  expect(report.differences).toEqual([{ change: 'extra', kind: 'column', table: 'users', name: 'nickname', actual: `text NULL DEFAULT 'x'::text` }]);
  expect(report.sql).toEqual(['ALTER TABLE users DROP COLUMN nickname']);
  const human = await cli('migrate', 'diff');
  expect(human.stdout).toContain('extra    column users.nickname: in the database, made by no applied migration');
  expect(human.stdout).toContain('  ALTER TABLE users DROP COLUMN nickname;');
  const status = await cli('migrate', 'status', '--check');
  expect(status.code).toBe(6);
  expect(status.stdout).toContain(`${names.length} applied, 0 pending, 0 changed`);
  expect(status.stdout).toContain('Drift: the schema differs');
  expect((await cli('migrate', 'status', '--check', '--no-drift')).code).toBe(0);
  expect((await cli('migrate', 'diff', '--sql')).stdout).toBe('ALTER TABLE users DROP COLUMN nickname;\n');
  await reconcile();
  expect((await cli('migrate', 'diff')).code).toBe(0);
});

test('an index dropped, a CHECK removed, a default and a type changed: each named, and the SQL restores them', async () => {
  await t.db.query('DROP INDEX idx_saga_states_status');
  await t.db.query('ALTER TABLE items DROP CONSTRAINT items_stock_non_negative');
  await t.db.query(`ALTER TABLE users ALTER COLUMN status SET DEFAULT 'inactive', ALTER COLUMN name TYPE varchar(200)`);
  const { code, report } = await diffJson();
  expect(code).toBe(6);
  expect(report.differences).toEqual(expect.arrayContaining([
    { change: 'missing', kind: 'index', table: 'saga_states', name: 'idx_saga_states_status',
      expected: 'CREATE INDEX idx_saga_states_status ON public.saga_states USING btree (status)' },
    { change: 'missing', kind: 'constraint', table: 'items', name: 'items_stock_non_negative', expected: 'CHECK ((stock >= 0))' },
    { change: 'changed', kind: 'column', table: 'users', name: 'status',
      expected: `character varying(20) NOT NULL DEFAULT 'active'::character varying`, actual: `character varying(20) NOT NULL DEFAULT 'inactive'::character varying` },
    { change: 'changed', kind: 'column', table: 'users', name: 'name', expected: 'character varying(100) NOT NULL', actual: 'character varying(200) NOT NULL' },
  ]));
  expect(report.differences).toHaveLength(4);
  expect(report.sql).toEqual(expect.arrayContaining([
    'CREATE INDEX CONCURRENTLY idx_saga_states_status ON public.saga_states USING btree (status)',
    'ALTER TABLE items ADD CONSTRAINT items_stock_non_negative CHECK ((stock >= 0))',
    `ALTER TABLE users ALTER COLUMN status SET DEFAULT 'active'::character varying`,
    'ALTER TABLE users ALTER COLUMN name TYPE character varying(100)',
  ]));
  await reconcile();
  expect((await diffJson()).report.differences).toEqual([]);
});

test('a CHECK loosened by hand is changed; the same CHECK made again from its printed form is not', async () => {
  await t.db.query('ALTER TABLE users DROP CONSTRAINT users_status_known');
  await t.db.query(`ALTER TABLE users ADD CONSTRAINT users_status_known CHECK (status IN ('active', 'suspended', 'inactive', 'banned'))`);
  const { report } = await diffJson();
  expect(report.differences).toEqual([expect.objectContaining({ change: 'changed', kind: 'constraint', table: 'users', name: 'users_status_known' })]);
  expect(report.differences[0].actual).toContain('banned');
  expect(report.sql).toEqual(['ALTER TABLE users DROP CONSTRAINT users_status_known',
    `ALTER TABLE users ADD CONSTRAINT users_status_known ${report.differences[0].expected}`]);
  await reconcile();
  expect((await diffJson()).report.differences).toEqual([]);
});

test('a trigger and its function added by hand are drift; dropped in dependency order', async () => {
  await t.db.query(`CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$`);
  await t.db.query('CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch_updated_at()');
  const { code, report } = await diffJson();
  expect(code).toBe(6);
  expect(report.differences.map((d: { change: string; kind: string; name: string }) => `${d.change} ${d.kind} ${d.name}`).sort())
    .toEqual(['extra function touch_updated_at()', 'extra trigger users_touch']);
  expect(report.sql).toEqual(['DROP TRIGGER users_touch ON users', 'DROP FUNCTION touch_updated_at()']);
  await reconcile();
  expect((await diffJson()).code).toBe(0);
});

test('a migration file deleted after it ran: its objects are extra, the file is named, exit 6', async () => {
  // As another branch's migration would leave it: recorded, its table made, and no file here.
  await t.db.query(`INSERT INTO sagactl_migrations (name, checksum, transactional, duration_ms, applied_by, host, application_name)
                    VALUES ('1800000000000-from-another-branch', repeat('0', 64), true, 1, 'x', 'y', 'z')`);
  await t.db.query('CREATE TABLE coupons (code varchar(20) PRIMARY KEY, percent integer NOT NULL CHECK (percent BETWEEN 1 AND 100))');
  const { code, report } = await diffJson();
  expect(code).toBe(6);
  expect(report.missingFiles).toEqual(['1800000000000-from-another-branch']);
  expect(report.basedOn).toEqual(names);
  // One difference for the whole table, listed with its columns; the SQL drops it whole.
  expect(report.differences).toEqual([{ change: 'extra', kind: 'table', name: 'coupons',
    actual: 'table (code character varying(20) NOT NULL, percent integer NOT NULL)' }]);
  expect(report.sql).toEqual(['DROP TABLE coupons']);
  const human = await cli('migrate', 'diff');
  expect(human.stdout).toContain('applied migration 1800000000000-from-another-branch has no file: what it made counts as drift');
  const status = await cli('migrate', 'status', '--check', '--json');
  expect(status.code).toBe(6);
  expect(JSON.parse(status.stdout)).toMatchObject({ missing: [{ name: '1800000000000-from-another-branch' }], drift: { ok: false } });
});

test('a table dropped by hand: missing, and the SQL makes it again with its keys and indexes', async () => {
  await t.db.query('DROP TABLE notifications');
  const { report } = await diffJson();
  expect(report.differences.map((d: { change: string; kind: string; name: string }) => `${d.change} ${d.kind} ${d.name}`))
    .toEqual(['missing table notifications']);
  expect(report.sql[0]).toMatch(/^CREATE TABLE notifications \(\n {2}notification_id character varying\(100\) NOT NULL,\n/);
  await reconcile();
  expect((await diffJson()).report.differences).toEqual([]);
});

test('history tables are not drift: ours, and TypeORM\'s when it is TypeORM\'s; a "migrations" table of another shape is', async () => {
  await t.db.query('CREATE TABLE migrations (id SERIAL PRIMARY KEY, "timestamp" bigint NOT NULL, name varchar NOT NULL)');
  expect((await diffJson()).code).toBe(0);
  await t.db.query('DROP TABLE migrations');
  await t.db.query('CREATE TABLE migrations (id SERIAL PRIMARY KEY, note text)');
  const { code, report } = await diffJson();
  expect(code).toBe(6);
  expect(report.differences.map((d: { name: string }) => d.name)).toEqual(['migrations']);
});

describe('bad input: clear message, documented exit code, nothing written', () => {
  test('--scratch-url that is no postgres URL: exit 2 before connecting', async () => {
    for (const argv of [['migrate', 'diff', '--scratch-url', 'nope'], ['migrate', 'status', '--check', '--scratch-url', 'http://x/y'],
      ['migrate', 'baseline', '--yes', '--scratch-url', '']]) {
      const r = await cli(...argv);
      expect([argv, r.code]).toEqual([argv, 2]);
      expect(r.stderr).toContain('--scratch-url must be a postgres:// URL');
    }
  });

  test('an unreachable scratch server: exit 4 naming it; the database is untouched', async () => {
    await t.db.query('ALTER TABLE users ADD COLUMN nickname text');
    const r = await cli('migrate', 'diff', '--scratch-url', 'postgres://postgres@127.0.0.1:1/postgres');
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('Cannot reach the scratch server at postgres://postgres@127.0.0.1:1/postgres');
    expect(r.stderr).toContain('--scratch-url');
    expect((await t.db.query(`SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'nickname'`))[0].n).toBe(1);
  });

  test('a role that may not create the scratch database: exit 4 naming CREATEDB and the way around it', async () => {
    const role = `sagactl_t_nocreatedb_${crypto.randomBytes(3).toString('hex')}`;
    await admin((c) => c.query(`CREATE ROLE ${role} LOGIN`));
    try {
      await t.db.query(`GRANT SELECT ON sagactl_migrations TO ${role}`);
      const url = new URL(t.url);
      url.username = role;
      const r = await runMain(['migrate', 'diff'], { DATABASE_URL: url.toString() });
      expect(r.code).toBe(4);
      expect(r.stderr).toContain(`The role lacks CREATEDB on postgres://${role}@127.0.0.1:5432/`);
      expect(r.stderr).toContain('--scratch-url');
      // With a scratch server it may use, the same role gets its answer.
      const ok = await runMain(['migrate', 'diff', '--scratch-url', t.url], { DATABASE_URL: url.toString() });
      expect(ok.code).toBe(0);
    } finally {
      await t.db.query(`REVOKE ALL ON sagactl_migrations FROM ${role}`);
      await admin((c) => c.query(`DROP ROLE ${role}`));
    }
  });
});

test('the scratch database is gone after the check, whatever its outcome', async () => {
  const scratches = async () => admin(async (c: Client) => (await c.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'sagactl:scratch' AND datname LIKE 'sagactl_scratch_%'`)).rows[0].n);
  await t.db.query('ALTER TABLE users ADD COLUMN nickname text');
  expect((await cli('migrate', 'diff')).code).toBe(6);
  expect((await cli('migrate', 'diff', '--json')).code).toBe(6);
  // No session of ours is left in a scratch database (each run drops its own WITH (FORCE)). The count
  // is server-wide, and other test files and runs build scratch databases too: theirs come and go,
  // a leaked one would stay, so the count must fall to 0 within a few seconds.
  const deadline = Date.now() + 10_000;
  while ((await scratches()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(await scratches()).toBe(0);
});
