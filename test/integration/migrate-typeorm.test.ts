import { Client } from 'pg';
import { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { createTestDb, TestDb } from '../support/database';
import { ROOT, runMain } from '../support/cli';
import { loadMigrations } from '../../src/migrate/loader';

// TypeORM's own runner and sagactl agree: the compiled classes run under TypeORM ('each' mode), and
// sagactl adopts what it applied. Whatever migrations follow the design's first one are held too.
const compiled = loadMigrations(ROOT, { compiled: true });
const names = compiled.map((m) => m.name);
const TABLES_MIGRATION = names[0];

let t: TestDb;
beforeEach(async () => { t = await createTestDb({ empty: true }); });
afterEach(async () => { await t.drop(); });

const cli = (...argv: string[]) => runMain(argv, { DATABASE_URL: t.url });
const recorded = async () => (await t.db.query(`SELECT to_regclass('sagactl_migrations') IS NOT NULL AS e`))[0].e
  ? (await t.db.query('SELECT name, baselined_from AS "from" FROM sagactl_migrations ORDER BY name')) : null;

/** TypeORM's runner, as the design's service configures it but in 'each' mode, over the compiled dist/migrations classes. */
async function typeormRuns(count = compiled.length): Promise<void> {
  const ds = new DataSource({
    type: 'postgres', url: t.url, logging: false, migrationsTransactionMode: 'each',
    migrations: compiled.slice(0, count).map((m) => m.instance.constructor as new () => MigrationInterface),
  });
  await ds.initialize();
  try {
    expect((await ds.runMigrations()).map((m) => m.name)).toEqual(compiled.slice(0, count).map((m) => m.className));
  } finally {
    await ds.destroy();
  }
}

test('TypeORM\'s runner applied everything: status says so, up refuses (3), baseline adopts, then status --check passes', async () => {
  await typeormRuns();
  const status = await cli('migrate', 'status', '--json');
  expect(status.code).toBe(0);
  expect(JSON.parse(status.stdout).adopt).toEqual({ from: 'typeorm', migrations: names, command: 'sagactl migrate baseline --yes' });
  const human = await cli('migrate', 'status');
  expect(human.stdout).toContain(`This database was migrated by TypeORM's runner: ${names.length} of these migrations are in its "migrations" table`);
  expect(human.stdout).toContain('Adopt them: sagactl migrate baseline --yes');
  expect(human.stdout).toContain('applied by TypeORM');
  expect((await cli('migrate', 'status', '--check')).code).toBe(6);

  const up = await cli('migrate', 'up');
  expect(up.code).toBe(3);
  expect(up.stderr).toContain('This database was migrated by TypeORM\'s runner');
  expect(up.stderr).toContain('sagactl migrate baseline --yes');
  expect(await recorded()).toBeNull();

  const refused = await cli('migrate', 'baseline');
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain('--yes');
  expect(await recorded()).toBeNull();

  const baseline = await cli('migrate', 'baseline', '--yes', '--json');
  expect(baseline.code).toBe(0);
  expect(JSON.parse(baseline.stdout)).toEqual({ recorded: names.map((name) => ({ name, from: 'typeorm' })), differences: [] });
  expect(await recorded()).toEqual(names.map((name) => ({ name, from: 'typeorm' })));
  const check = await cli('migrate', 'status', '--check', '--json');
  expect(check.code).toBe(0);
  expect(JSON.parse(check.stdout)).toMatchObject({ pending: [], adopt: null, drift: { ok: true, basedOn: names } });
  expect((await cli('migrate', 'status')).stdout).toContain('applied (baselined: typeorm)');
  expect((await cli('migrate', 'up')).stdout).toContain('Nothing to apply');
  expect((await cli('migrate', 'baseline', '--yes')).stdout).toContain('Nothing to baseline');
});

test('TypeORM\'s runner applied all but the newest: baseline adopts those, and sagactl up continues from there', async () => {
  await typeormRuns(compiled.length - 1);
  expect((await cli('migrate', 'baseline', '--yes')).code).toBe(0);
  expect((await recorded())!.map((r: { name: string }) => r.name)).toEqual(names.slice(0, -1));
  const up = await cli('migrate', 'up', '--json');
  expect(up.code).toBe(0);
  expect(JSON.parse(up.stdout).ran.map((r: { name: string }) => r.name)).toEqual(names.slice(-1));
  expect((await cli('migrate', 'status', '--check')).code).toBe(0);
});

test('baseline refuses (6) when the objects of a migration are missing, naming them, and records nothing', async () => {
  await typeormRuns();
  await t.db.query('DROP INDEX idx_saga_states_status');
  await t.db.query('ALTER TABLE items DROP CONSTRAINT items_stock_non_negative');
  const r = await cli('migrate', 'baseline', '--yes');
  expect(r.code).toBe(6);
  expect(r.stderr).toContain(`Cannot baseline ${names.join(', ')}: the database lacks what they make:`);
  expect(r.stderr).toContain('missing  index saga_states.idx_saga_states_status');
  expect(r.stderr).toContain('missing  constraint items.items_stock_non_negative');
  expect(r.stderr).toContain('Nothing was recorded.');
  expect(await recorded()).toBeNull();
  // Only the tables' migration has all of its objects: that much can be adopted.
  const some = await cli('migrate', 'baseline', '--to', TABLES_MIGRATION, '--yes', '--json');
  expect(some.code).toBe(6);
  expect(some.stderr).toContain('items_stock_non_negative');
});

test('a schema older than sagactl (no history at all): status says so; baseline needs --to; up then continues', async () => {
  // The tables made by hand, as a database that predates the tool would have them.
  const client = new Client({ connectionString: t.url });
  await client.connect();
  try {
    await compiled[0].instance.up({ query: async (sql: string, p?: unknown[]) => (await client.query(sql, p)).rows } as unknown as QueryRunner);
  } finally {
    await client.end();
  }
  const status = await cli('migrate', 'status', '--json');
  expect(JSON.parse(status.stdout).adopt).toEqual({ from: 'existing schema', migrations: [],
    command: 'sagactl migrate baseline --to <the newest migration it already has> --yes' });
  expect((await cli('migrate', 'status')).stdout).toContain('its schema predates sagactl');

  // up without adopting: the first migration meets what exists, exit 3 with the fix, nothing recorded.
  const up = await cli('migrate', 'up');
  expect(up.code).toBe(3);
  expect(up.stderr).toContain(`Migration ${TABLES_MIGRATION} (up) failed: relation "users" already exists`);
  expect(up.stderr).toContain('sagactl migrate baseline');
  expect(await t.db.query('SELECT name FROM sagactl_migrations')).toEqual([]);

  const guess = await cli('migrate', 'baseline', '--yes');
  expect(guess.code).toBe(2);
  expect(guess.stderr).toContain('--to NAME');
  const bad = await cli('migrate', 'baseline', '--to', 'nope', '--yes');
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('--to names no migration: "nope"');
  const badTimeout = await cli('migrate', 'baseline', '--lock-timeout', 'soon', '--yes');
  expect(badTimeout.code).toBe(2);

  const baseline = await cli('migrate', 'baseline', '--to', TABLES_MIGRATION, '--yes');
  expect(baseline.code).toBe(0);
  expect(baseline.stdout).toContain(`baselined ${TABLES_MIGRATION} (from the existing schema)`);
  expect(await recorded()).toEqual([{ name: TABLES_MIGRATION, from: 'existing schema' }]);
  expect((await cli('migrate', 'up')).code).toBe(0);
  expect((await recorded())!.map((r: { name: string }) => r.name)).toEqual(names);
  expect((await cli('migrate', 'status', '--check')).code).toBe(0);
});
