import { createTestDb, TestDb } from '../support/database';
import { runMain } from '../support/cli';

let t: TestDb;
beforeAll(async () => { t = await createTestDb({ empty: true }); });
afterAll(async () => { await t.drop(); });

test('up, down to zero, up again', async () => {
  const env = { DATABASE_URL: t.url };
  const up = await runMain(['migrate', 'up', '--json'], env);
  expect(up.code).toBe(0);
  expect(JSON.parse(up.stdout).ran.map((r: { name: string }) => r.name)).toHaveLength(2);
  const down = await runMain(['migrate', 'down', '--to', '0', '--yes', '--json'], env);
  expect(down.code).toBe(0);
  expect(JSON.parse(down.stdout).ran).toHaveLength(2);
  const tables = await t.db.query(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'sagactl_migrations'`);
  expect(tables[0].n).toBe(0);
  const again = await runMain(['migrate', 'up'], env);
  expect(again.code).toBe(0);
  const status = await runMain(['migrate', 'status', '--check', '--json'], env);
  expect(status.code).toBe(0);
  expect(JSON.parse(status.stdout).pending).toEqual([]);
});
