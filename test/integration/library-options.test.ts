import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { createClient } from '@redis/client';
import { createTestDb, TestDb } from '../support/database';
import { balanceOf, stockOf } from '../support/saga';
import { redisAvailable, redisUrl, uniqueSuffix } from '../support/redis';
import { loadFixtures } from '../../src/seed/fixtures';
import { Engine } from '../../src/saga/engine';
import { sagaCacheKey } from '../../src/cache/saga-cache';
import { createSagaClient, entities, runMigrations, UsageError } from '../../src/index';

// The library's client with each of its options and defaults, as an application calls it, and
// runMigrations on the application's own pool or TypeORM DataSource.

let t: TestDb;
beforeAll(async () => {
  t = await createTestDb();
});
afterAll(async () => { await t.drop(); });
beforeEach(async () => {
  await t.db.query('TRUNCATE saga_events, saga_step_results, notifications, transaction_logs, saga_states, operator_audit, saga_stats_dirty, ledger');
  await loadFixtures(t.db, { reset: true });
});

/** A saga a process on another host took through its first step (or two) and left ten minutes ago. */
async function abandoned(id: string, steps: 1 | 2) {
  const engine = new Engine({ db: t.db, owner: 'elsewhere:1:gone', leaseMs: 30_000, lockTimeoutMs: 5000, grouping: false });
  await engine.start({ id, mode: 'orchestration', userId: 'user-123', itemId: 'item-sword', quantity: 2, inject: false });
  if (steps === 2) await engine.forward('reserve_inventory', { id, mode: 'orchestration', inject: false, eventId: null });
  await t.db.query(`UPDATE saga_states SET lease_expires_at = now() - interval '9 minutes', updated_at = updated_at - interval '10 minutes'
                     WHERE transaction_id = $1`, [id]);
  await t.db.query(`UPDATE saga_step_results SET executed_at = executed_at - interval '10 minutes' WHERE transaction_id = $1`, [id]);
}

describe('options refused before anything connects', () => {
  test('a DataSource without a pg pool, and a Redis URL given beside a cache', () => {
    const noPool = () => createSagaClient({ dataSource: { isInitialized: true, options: { type: 'postgres' }, driver: {} } });
    expect(noPool).toThrow(UsageError);
    expect(noPool).toThrow('dataSource has no connection pool.');
    const both = () => createSagaClient({ connectionString: t.url, redisUrl: 'redis://127.0.0.1:6379', cache: { get: async () => undefined } as never });
    expect(both).toThrow(UsageError);
    expect(both).toThrow('Give redisUrl or cache, not both.');
  });

  test('a recovery loop more often than every 100 ms, or every fraction of one, is refused and nothing runs', async () => {
    const client = createSagaClient({ connectionString: t.url });
    const rounds: number[] = [];
    for (const everyMs of [99, 150.5, Number.NaN]) {
      expect(() => client.startRecovery({ everyMs, onRound: () => rounds.push(1) })).toThrow('everyMs must be a whole number of milliseconds, at least 100.');
    }
    await client.close();
    expect(rounds).toEqual([]);
  });
});

describe('reads with their defaults', () => {
  test('listSagas pages newest first by cursor, with or without filters; a cursor it did not print is refused', async () => {
    const client = createSagaClient({ connectionString: t.url });
    try {
      const ids: string[] = [];
      for (const mode of ['orchestration', 'choreography', 'orchestration'] as const) {
        ids.push((await client.purchaseOutcome({ userId: 'user-123', itemId: 'item-potion', quantity: 1, mode })).transactionId);
      }
      const all = await client.listSagas();
      expect(all.sagas.map((s) => s.transactionId)).toEqual([...ids].reverse());
      expect([all.count, all.nextCursor]).toEqual([3, null]);
      const first = await client.listSagas({ limit: 2 });
      expect(first.sagas.map((s) => s.transactionId)).toEqual([ids[2], ids[1]]);
      expect(first.nextCursor).not.toBeNull();
      const second = await client.listSagas({ limit: 2, cursor: first.nextCursor! });
      expect([second.sagas.map((s) => s.transactionId), second.nextCursor]).toEqual([[ids[0]], null]);
      const choreo = await client.listSagas({ mode: 'choreography', until: new Date(Date.now() + 60_000) });
      expect([choreo.sagas.map((s) => s.transactionId), choreo.count]).toEqual([[ids[1]], 1]);
      expect((await client.listSagas({ until: new Date(Date.now() - 3_600_000) })).sagas).toEqual([]);
      // Refused as a rejected promise (like every other failure of the client), not thrown where it is called.
      const forged = Buffer.from(JSON.stringify([42, 'x'])).toString('base64url');
      const refused = client.listSagas({ cursor: forged });
      await expect(refused).rejects.toBeInstanceOf(UsageError);
      await expect(refused).rejects.toThrow(/is not a cursor printed by saga list/);
    } finally {
      await client.close();
    }
  });

  test('purchaseOutcome refuses bad input as a rejected promise, and writes nothing', async () => {
    const client = createSagaClient({ connectionString: t.url });
    try {
      const refused = client.purchaseOutcome({ userId: 'user-123', itemId: 'item-potion', quantity: 0 });
      await expect(refused).rejects.toBeInstanceOf(UsageError);
      expect((await t.db.query('SELECT count(*)::int AS n FROM saga_states'))[0].n).toBe(0);
    } finally {
      await client.close();
    }
  });

  test('stats() with no window counts every saga', async () => {
    const client = createSagaClient({ connectionString: t.url });
    try {
      await client.purchaseOutcome({ userId: 'user-123', itemId: 'item-potion', quantity: 1 });
      await client.purchaseOutcome({ userId: 'user-suspended', itemId: 'item-potion', quantity: 1 });
      const stats = await client.stats();
      expect(stats).toMatchObject({ total: 2, completed: 1, failed: 1, stuck: 0, window: { since: null, until: null } });
    } finally {
      await client.close();
    }
  });
});

describe('operator calls with their defaults (stuck after a minute unmoved)', () => {
  test('findStuck, planCompensation and compensate: the plan is what is done, to the cent and the unit', async () => {
    await abandoned('lib-stuck', 2);
    const client = createSagaClient({ connectionString: t.url, actor: { user: 'ops-bot', host: 'runner-1' } });
    try {
      expect((await client.findStuck()).map((s) => s.transactionId)).toEqual(['lib-stuck']);
      const [plan] = await client.planCompensation(['lib-stuck']);
      expect(plan.undo.map((u) => u.action)).toEqual(['restock 2 item-sword', 'refund 200.00 to user-123']);
      expect([await balanceOf(t.db, 'user-123'), await stockOf(t.db, 'item-sword')]).toEqual(['800.00', 48]);
      const [result] = await client.compensate(['lib-stuck'], { reason: 'INC-7' });
      expect(result).toMatchObject({ outcome: 'compensated', verified: true, undo: plan.undo });
      expect([await balanceOf(t.db, 'user-123'), await stockOf(t.db, 'item-sword')]).toEqual(['1000.00', 50]);
      expect(await t.db.query('SELECT os_user, host, reason, outcome FROM operator_audit'))
        .toEqual([{ os_user: 'ops-bot', host: 'runner-1', reason: 'INC-7', outcome: 'compensated' }]);
    } finally {
      await client.close();
    }
  });

  test('recover() with no options finishes every stuck saga, under the reason "recovery"', async () => {
    await abandoned('lib-r1', 1);
    await abandoned('lib-r2', 2);
    const client = createSagaClient({ connectionString: t.url });
    try {
      const report = await client.recover();
      expect(report.results.map((r) => [r.transactionId, r.after]).sort()).toEqual([['lib-r1', 'completed'], ['lib-r2', 'completed']]);
      expect([report.skipped, report.refused]).toEqual([0, 0]);
      expect(await stockOf(t.db, 'item-sword')).toBe(46);
      expect(await balanceOf(t.db, 'user-123')).toBe('600.00');
      expect(new Set((await t.db.query('SELECT reason FROM operator_audit')).map((r) => r.reason))).toEqual(new Set(['recovery']));
    } finally {
      await client.close();
    }
  });
});

describe('the client\'s own Redis cache (redisUrl)', () => {
  test('an unreachable Redis: one warning naming the cause, and purchases and reads go on without it', async () => {
    const warnings: string[] = [];
    // Nothing listens on port 1: refused on every address localhost has (an AggregateError without a message of its own).
    const client = createSagaClient({ connectionString: t.url, redisUrl: 'redis://localhost:1/0', onWarning: (w) => warnings.push(w) });
    try {
      const saga = await client.purchase({ userId: 'user-123', itemId: 'item-potion', quantity: 1 });
      expect(saga.status).toBe('completed');
      expect((await client.getSaga(saga.transactionId)).status).toBe('completed');
    } finally {
      await client.close();
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^the Redis cache at redis:\/\/localhost:1\/0 is unavailable \(\S+.*\); going on without it\./);
    expect(warnings[0]).toMatch(/ECONNREFUSED/);
  });

  test('without onWarning an unreachable Redis is silent, and never fails a purchase', async () => {
    const client = createSagaClient({ connectionString: t.url, redisUrl: 'redis://127.0.0.1:1/0' });
    try {
      expect((await client.purchaseOutcome({ userId: 'user-123', itemId: 'item-potion', quantity: 1 })).status).toBe('completed');
    } finally {
      await client.close();
    }
  });

  (redisAvailable('library-options.test.ts') ? test : test.skip)('reads are cached once settled, and the client\'s compensation invalidates them', async () => {
    const url = redisUrl(13);
    const redis = createClient({ url, socket: { reconnectStrategy: false } });
    await redis.connect();
    const id = `lib-cache-${uniqueSuffix()}`;
    const client = createSagaClient({ connectionString: t.url, redisUrl: url });
    try {
      const saga = await client.purchase({ userId: 'user-123', itemId: 'item-sword', quantity: 1, id });
      expect((await client.getSaga(id)).status).toBe('completed');
      expect(await redis.get(sagaCacheKey(id))).toContain('"completed"');
      const [r] = await client.compensate([id], { reason: 'refund', includeCompleted: true });
      expect(r.outcome).toBe('compensated');
      expect((await client.getSaga(id)).status).toBe('compensated');
      expect(saga.total).toBe('100.00');
      expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
    } finally {
      await client.close();
      await redis.del(sagaCacheKey(id));
      await redis.close();
    }
  });
});

describe('runMigrations on the application\'s connection', () => {
  let empty: TestDb;
  beforeEach(async () => { empty = await createTestDb({ empty: true }); });
  afterEach(async () => { await empty.drop(); });
  const history = async () => (await empty.db.query('SELECT count(*)::int AS n FROM sagactl_migrations'))[0].n as number;

  test('its pg Pool: migrated once, and the pool is left open for the application', async () => {
    const pool = new Pool({ connectionString: empty.url, max: 2 });
    try {
      const ran = await runMigrations({ pool, log: () => undefined });
      expect(ran.length).toBeGreaterThan(3);
      expect(await runMigrations({ pool })).toEqual([]);
      expect((await pool.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
      expect(await history()).toBe(ran.length);
    } finally {
      await pool.end();
    }
  });

  test('its TypeORM DataSource: migrated when initialised and PostgreSQL, refused otherwise with nothing written', async () => {
    const ds = new DataSource({ type: 'postgres', url: empty.url, entities, migrationsRun: false, synchronize: false });
    await expect(runMigrations({ dataSource: ds })).rejects.toThrow('dataSource must be an initialised PostgreSQL DataSource.');
    await expect(runMigrations({ dataSource: { isInitialized: true, options: { type: 'mysql' }, driver: {} } })).rejects.toBeInstanceOf(UsageError);
    expect((await empty.db.query(`SELECT to_regclass('sagactl_migrations') AS t`))[0].t).toBeNull();
    await ds.initialize();
    try {
      const ran = await runMigrations({ dataSource: ds });
      expect(ran.length).toBeGreaterThan(3);
      expect(await history()).toBe(ran.length);
      expect(ds.isInitialized).toBe(true);
      expect(await ds.query('SELECT count(*)::int AS n FROM users')).toEqual([{ n: 0 }]);
    } finally {
      await ds.destroy();
    }
  });
});
