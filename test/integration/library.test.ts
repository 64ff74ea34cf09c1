import os from 'node:os';
import { spawnSync } from 'node:child_process';
import { Pool, types } from 'pg';
import { DataSource } from 'typeorm';
import { createTestDb, TestDb } from '../support/database';
import { ROOT } from '../support/cli';
import { loadFixtures } from '../../src/seed/fixtures';
import { Engine } from '../../src/saga/engine';
import { createSagaClient, entities, runMigrations, StateError, UsageError } from '../../src/index';

let t: TestDb;
beforeAll(async () => {
  t = await createTestDb();
  await loadFixtures(t.db);
});
afterAll(async () => { await t.drop(); });

const sagaCount = async () => (await t.db.query('SELECT count(*)::int AS n FROM saga_states'))[0].n as number;

test('importing the built library loads no TypeORM, and a client connects on its first query, not before', () => {
  const probe = `const lib = require(${JSON.stringify(`${ROOT}/dist/src/index.js`)});
    const loaded = () => Object.keys(require.cache).filter((k) => k.includes('/node_modules/typeorm/')).length;
    const before = loaded();
    const client = lib.createSagaClient({ connectionString: 'postgres://nobody@127.0.0.1:1/none' });
    client.close().then(() => { const n = lib.entities.length; console.log(JSON.stringify({ before, afterEntities: loaded(), n })); });`;
  const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', timeout: 20_000 });
  expect(r.status).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out.before).toBe(0);
  expect(out.afterEntities).toBeGreaterThan(0);
  expect(out.n).toBe(entities.length);
});

describe('createSagaClient refuses what it cannot use, with a typed error, before connecting', () => {
  test.each([
    [{}, /needs one of connectionString, pool or dataSource/],
    [{ connectionString: 'postgres://x@h/db', pool: new Pool() }, /not connectionString and pool/],
    [{ connectionString: 'mysql://x@h/db' }, /must start with postgres/],
    [{ pool: {} as Pool }, /must be a pg Pool/],
    [{ dataSource: { isInitialized: true, options: { type: 'mysql' }, driver: {} } }, /PostgreSQL DataSource, got type "mysql"/],
    [{ dataSource: { isInitialized: false, options: { type: 'postgres' }, driver: {} } }, /not initialised/],
    [{ connectionString: 'postgres://x@h/db', leaseMs: 5 }, /leaseMs/],
    [{ connectionString: 'postgres://x@h/db', lockTimeoutMs: 0 }, /lockTimeoutMs/],
    [{ connectionString: 'postgres://x@h/db', redisUrl: 'http://nope', }, /REDIS_URL must start with redis/],
  ])('%#: %s', (opts, message) => {
    let err: unknown;
    try { createSagaClient(opts as never); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(message);
  });

  test('an uninitialised TypeORM DataSource', async () => {
    const ds = new DataSource({ type: 'postgres', url: t.url, entities });
    expect(() => createSagaClient({ dataSource: ds })).toThrow(/not initialised/);
  });
});

describe('on the application\'s own pool', () => {
  let pool: Pool;
  beforeAll(() => { pool = new Pool({ connectionString: t.url, max: 3, options: '-c TimeZone=Asia/Tokyo' }); });
  afterAll(async () => { await pool.end(); });

  test('bad purchases are typed errors and write nothing', async () => {
    const client = createSagaClient({ pool });
    const before = await sagaCount();
    for (const input of [
      { userId: '', itemId: 'item-sword' }, { userId: "x'; DROP TABLE users; --", itemId: 'item-sword' },
      { userId: 'user-123', itemId: 'item-sword', quantity: 0 }, { userId: 'user-123', itemId: 'item-sword', quantity: 1.5 },
      { userId: 'user-123', itemId: 'item-sword', quantity: 100_000 }, { userId: 'user-123', itemId: 'item-sword', mode: 'telepathy' },
      { userId: 'user-123', itemId: 'item-sword', id: 'x'.repeat(91) }, { userId: 7, itemId: 'item-sword' },
    ]) {
      await expect(client.purchase(input as never)).rejects.toBeInstanceOf(UsageError);
    }
    expect(await sagaCount()).toBe(before);
    await client.close();
  });

  test('a purchase leaves the application\'s sessions and pg\'s global parsers as they were, and stamps UTC', async () => {
    const parser = types.getTypeParser(1114);
    const client = createSagaClient({ pool });
    const saga = await client.purchase({ userId: 'user-123', itemId: 'item-potion', quantity: 1, mode: 'choreography' });
    await client.close(); // the application's pool is never ended by the client
    expect(saga.status).toBe('completed');
    expect(Math.abs(new Date(saga.createdAt).getTime() - Date.now())).toBeLessThan(60_000);
    expect(types.getTypeParser(1114)).toBe(parser);
    const { rows } = await pool.query(`SELECT current_setting('TimeZone') AS tz, current_setting('lock_timeout') AS lt`);
    expect(rows[0]).toEqual({ tz: 'Asia/Tokyo', lt: '0' });
  });

  test('an id is an idempotency key: the same request returns the saga, another is refused', async () => {
    const client = createSagaClient({ pool });
    const first = await client.purchaseOutcome({ userId: 'user-123', itemId: 'item-potion', quantity: 1, id: 'lib-key-1' });
    const again = await client.purchaseOutcome({ userId: 'user-123', itemId: 'item-potion', quantity: 1, id: 'lib-key-1' });
    expect([first.executed, again.executed, again.status]).toEqual([true, false, 'completed']);
    await expect(client.purchase({ userId: 'user-123', itemId: 'item-sword', quantity: 1, id: 'lib-key-1' })).rejects.toBeInstanceOf(StateError);
    await client.close();
  });
});

test('the recovery loop finishes a saga whose owner on this host is gone, and stops when asked', async () => {
  // A process on this host that is not running (pid far above pid_max) left a saga after its first step.
  const dead = `${os.hostname()}:4194999:gone`;
  await new Engine({ db: t.db, owner: dead, leaseMs: 60_000, lockTimeoutMs: 5000, grouping: false })
    .start({ id: 'lib-orphan', mode: 'orchestration', userId: 'user-123', itemId: 'item-potion', quantity: 1, inject: false });
  const client = createSagaClient({ connectionString: t.url });
  const rounds: number[] = [];
  const loop = client.startRecovery({ everyMs: 100, onRound: (r) => rounds.push(r.results.length) });
  const deadline = Date.now() + 20_000;
  while ((await client.getSaga('lib-orphan')).status !== 'completed' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await loop.stop();
  await client.close();
  expect((await t.db.query(`SELECT status FROM saga_states WHERE transaction_id = 'lib-orphan'`))[0].status).toBe('completed');
  expect(rounds).toContain(1);
  const audit = await t.db.query(`SELECT os_user, outcome FROM operator_audit WHERE transaction_id = 'lib-orphan' ORDER BY id`);
  expect(audit).toEqual([{ os_user: 'application', outcome: 'claimed' }, { os_user: 'application', outcome: 'completed' }]);
});

test('runMigrations migrates an empty database once, under sagactl\'s history', async () => {
  const empty = await createTestDb({ empty: true });
  try {
    const first = await runMigrations({ connectionString: empty.url });
    expect(first.length).toBeGreaterThan(3);
    expect(await runMigrations({ connectionString: empty.url })).toEqual([]);
    expect((await empty.db.query('SELECT count(*)::int AS n FROM sagactl_migrations'))[0].n).toBe(first.length);
    await expect(runMigrations({} as never)).rejects.toBeInstanceOf(UsageError);
  } finally {
    await empty.drop();
  }
});
