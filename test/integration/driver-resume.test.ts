import { Client } from 'pg';
import { createTestDb, TestDb } from '../support/database';
import { balanceOf, stockOf } from '../support/saga';
import { loadFixtures } from '../../src/seed/fixtures';
import { DEFAULT_LEASE_MS, Engine, EngineDeps } from '../../src/saga/engine';
import { SagaDriver } from '../../src/saga/driver';
import { readFacts } from '../../src/saga/facts';
import type { Db } from '../../src/db/pool';

// The drivers carry a saga on from its records whenever a statement did not act on it (its
// response lost, another owner, an event delivered twice), and the engine re-sends a statement
// that failed for a transient reason: each effect lands once, money and stock exact.

let t: TestDb;
let deps: EngineDeps;
beforeAll(async () => {
  t = await createTestDb();
  deps = { db: t.db, owner: 'driver-test', leaseMs: DEFAULT_LEASE_MS, lockTimeoutMs: 5000, grouping: true };
});
afterAll(async () => { await t.drop(); });
beforeEach(async () => {
  await t.db.query('TRUNCATE saga_events, saga_step_results, notifications, transaction_logs, saga_states, ledger');
  await loadFixtures(t.db, { reset: true });
});

const req = { userId: 'user-123', itemId: 'item-sword', quantity: 1, inject: false };
const count = async (sql: string, params: unknown[] = []) => (await t.db.query(sql, params))[0].n as number;
const stepsOf = async (id: string) => (await t.db.query(
  `SELECT step || ':' || kind || ':' || status AS s FROM saga_step_results WHERE transaction_id = $1 ORDER BY id`, [id])).map((r) => r.s);
const waitFor = async (what: string, check: () => Promise<boolean>) => {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('the driver, from the records', () => {
  test('a purchase under an id that exists already runs nothing and says so', async () => {
    const driver = new SagaDriver(new Engine(deps));
    expect(await driver.purchase('dup', { mode: 'orchestration', userId: 'user-123', itemId: 'item-sword', quantity: 1 }))
      .toEqual({ status: 'completed', errorCode: null });
    expect(await driver.purchase('dup', { mode: 'orchestration', userId: 'user-123', itemId: 'item-sword', quantity: 3 })).toBeUndefined();
    expect(await balanceOf(t.db, 'user-123')).toBe('900.00');
    expect(await stockOf(t.db, 'item-sword')).toBe(49);
  });

  test('a response lost after a step committed: resume goes on from the next step, and the committed one is not run again', async () => {
    const engine = new Engine(deps);
    await engine.start({ ...req, id: 'lost', mode: 'orchestration' });
    // The step commits; the driver that sent it never hears (a dropped connection, a crash).
    await engine.forward('reserve_inventory', { id: 'lost', mode: 'orchestration', inject: false, eventId: null });
    expect(await new SagaDriver(engine).resume('lost')).toEqual({ status: 'completed', errorCode: null });
    expect(await stepsOf('lost')).toEqual(['validate_user:forward:succeeded', 'reserve_inventory:forward:succeeded',
      'log_transaction:forward:succeeded', 'send_notification:forward:succeeded']);
    expect(await stockOf(t.db, 'item-sword')).toBe(49);
    expect(await balanceOf(t.db, 'user-123')).toBe('900.00');
  });

  test('choreography: an event delivered again after its step ran does nothing, and the saga carries on from its outbox', async () => {
    const engine = new Engine(deps);
    const start = await engine.start({ ...req, id: 'redelivered', mode: 'choreography' });
    expect(start.eventType).toBe('reserve_inventory.run');
    // The step consumed the event and emitted the next one; then the first event is delivered again.
    const step = await engine.forward('reserve_inventory', { id: 'redelivered', mode: 'choreography', inject: false, eventId: start.eventId });
    expect(step.eventType).toBe('log_transaction.run');
    const driver = new SagaDriver(engine);
    const settled = await driver.redeliver({ transactionId: 'redelivered', pendingEvents: [{ id: start.eventId!, type: 'reserve_inventory.run' }] });
    expect(settled).toEqual({ status: 'completed', errorCode: null });
    expect(await stockOf(t.db, 'item-sword')).toBe(49);
    expect(await count(`SELECT count(*)::int AS n FROM saga_step_results WHERE transaction_id = 'redelivered'`)).toBe(4);
    const facts = (await readFacts(t.db, 'redelivered'))!;
    expect(facts.pendingEvents).toEqual([]);
    // Nothing waits any more: there is nothing to redeliver.
    expect(await driver.redeliver(facts)).toBeUndefined();
  });

  test('a saga leased to another live owner is left to it; once the lease runs out, it is taken over and finished', async () => {
    await new Engine({ ...deps, owner: 'elsewhere:1:alive' }).start({ ...req, id: 'leased', mode: 'orchestration' });
    const driver = new SagaDriver(new Engine(deps));
    expect(await driver.resume('leased')).toEqual({ status: 'in_progress', errorCode: null });
    expect(await stockOf(t.db, 'item-sword')).toBe(50);
    await t.db.query(`UPDATE saga_states SET lease_expires_at = now() - interval '1 second' WHERE transaction_id = 'leased'`);
    expect(await driver.resume('leased')).toEqual({ status: 'completed', errorCode: null });
    expect(await stockOf(t.db, 'item-sword')).toBe(49);
    expect((await t.db.query(`SELECT lease_owner FROM saga_states WHERE transaction_id = 'leased'`))[0].lease_owner).toBeNull();
  });

  test('choreography compensating with its outbox superseded: the undos are taken from the step records, every effect given back', async () => {
    const engine = new Engine(deps);
    const start = await engine.start({ ...req, id: 'superseded', mode: 'choreography', quantity: 2 });
    const reserved = await engine.forward('reserve_inventory', { id: 'superseded', mode: 'choreography', inject: false, eventId: start.eventId });
    const failed = await engine.forward('log_transaction', { id: 'superseded', mode: 'choreography', inject: true, eventId: reserved.eventId });
    expect([failed.status, failed.eventType]).toEqual(['compensating', 'reserve_inventory.compensate']);
    await t.db.query(`UPDATE saga_events SET delivered_at = now() WHERE transaction_id = 'superseded'`);
    expect([await balanceOf(t.db, 'user-123'), await stockOf(t.db, 'item-sword')]).toEqual(['800.00', 48]);
    expect(await new SagaDriver(engine).resume('superseded')).toEqual({ status: 'compensated', errorCode: 'INJECTED_FAILURE' });
    expect([await balanceOf(t.db, 'user-123'), await stockOf(t.db, 'item-sword')]).toEqual(['1000.00', 50]);
    expect(await stepsOf('superseded')).toEqual(['validate_user:forward:succeeded', 'reserve_inventory:forward:succeeded',
      'log_transaction:forward:failed', 'reserve_inventory:compensation:succeeded', 'validate_user:compensation:succeeded']);
  });

  test('compensating with nothing left to undo (claimed before any step committed): it ends compensated and moves nothing', async () => {
    await t.db.query(`INSERT INTO saga_states (transaction_id, status, user_id, item_id, quantity, price, mode, error_code)
                      VALUES ('nothing-done', 'compensating', 'user-123', 'item-sword', 1, 100.00, 'orchestration', 'RECOVERED_BY_COMPENSATION')`);
    const settled = await new SagaDriver(new Engine(deps)).resume('nothing-done');
    expect(settled).toEqual({ status: 'compensated', errorCode: 'RECOVERED_BY_COMPENSATION' });
    expect([await balanceOf(t.db, 'user-123'), await stockOf(t.db, 'item-sword')]).toEqual(['1000.00', 50]);
    expect(await count(`SELECT count(*)::int AS n FROM ledger`)).toBe(0);
    expect(await stepsOf('nothing-done')).toEqual([]);
  });

  test('resuming a saga that does not exist is an error, not a silent success', async () => {
    await expect(new SagaDriver(new Engine(deps)).resume('no-such-saga')).rejects.toThrow('saga no-such-saga vanished');
  });

  test('validate_user runs inside the start: the engine has no separate statement for it', () => {
    expect(() => new Engine(deps).forward('validate_user', { id: 'x', mode: 'orchestration', inject: false, eventId: null }))
      .toThrow('no statement for validate_user');
  });
});

describe('the engine re-sends a statement that failed for a transient reason', () => {
  let other: Client;
  beforeEach(async () => {
    other = new Client({ connectionString: t.url, application_name: 'driver-test-other' });
    await other.connect();
  });
  afterEach(async () => { await other.end(); });

  const waitingPids = async () => (await t.db.query(
    `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name = 'sagactl-test'`))
    .map((r) => r.pid as number);

  test('a deadlock: the statement the server chose to abort is sent again, and its step applies once', async () => {
    const engine = new Engine({ ...deps, grouping: false });
    await engine.start({ ...req, id: 'deadlock', mode: 'orchestration' });
    // Another session takes the item, the step takes the saga and waits for the item, then the
    // other session asks for the saga: a cycle. The step's session detects it first (the other
    // waits 10 s before it looks) and is aborted.
    await other.query(`SET deadlock_timeout = '10s'`);
    await other.query('BEGIN');
    await other.query(`SELECT 1 FROM items WHERE item_id = 'item-sword' FOR UPDATE`);
    const step = engine.forward('reserve_inventory', { id: 'deadlock', mode: 'orchestration', inject: false, eventId: null });
    await waitFor('the step to wait for the item', async () => (await waitingPids()).length === 1);
    // Returns only once the step's first try was aborted (it held the saga's row until then).
    await other.query(`SELECT 1 FROM saga_states WHERE transaction_id = 'deadlock' FOR UPDATE`);
    await other.query('COMMIT');
    const r = await step;
    expect([r.acted, r.code, r.status]).toEqual([true, null, 'in_progress']);
    expect(await stockOf(t.db, 'item-sword')).toBe(49);
    expect(await count(`SELECT count(*)::int AS n FROM ledger WHERE transaction_id = 'deadlock' AND step = 'reserve_inventory'`)).toBe(1);
  });

  test('a connection cut while the statement waited: sent again on a new connection, applied once', async () => {
    const engine = new Engine({ ...deps, grouping: false });
    await other.query('BEGIN');
    await other.query(`SELECT 1 FROM users WHERE user_id = 'user-123' FOR UPDATE`);
    const started = engine.start({ ...req, id: 'cut', mode: 'orchestration' });
    await waitFor('the start to wait for the user', async () => (await waitingPids()).length === 1);
    const [first] = await waitingPids();
    await t.db.query('SELECT pg_terminate_backend($1)', [first]);
    await waitFor('the start to be sent again', async () => { const p = await waitingPids(); return p.length === 1 && p[0] !== first; });
    await other.query('COMMIT');
    const r = await started;
    expect([r.acted, r.code, r.status]).toEqual([true, null, 'in_progress']);
    expect(await balanceOf(t.db, 'user-123')).toBe('900.00');
    expect(await count(`SELECT count(*)::int AS n FROM saga_states WHERE transaction_id = 'cut'`)).toBe(1);
  });

  /** The database, with its pool failing the next statements with these SQLSTATEs before it answers. */
  function failingFirst(db: Db, codes: string[]): { db: Db; sent: () => number } {
    let sent = 0;
    const pool = new Proxy(db.pool, {
      get(target, prop) {
        if (prop === 'query') {
          return (...args: unknown[]) => {
            const code = codes[sent++];
            if (code) return Promise.reject(Object.assign(new Error(`injected ${code}`), { code }));
            return (target.query as (...a: unknown[]) => Promise<unknown>)(...args);
          };
        }
        const v = Reflect.get(target, prop);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    return { db: { ...db, pool }, sent: () => sent };
  }

  test('serialization failures and deadlocks are retried at once, up to five tries', async () => {
    const flaky = failingFirst(t.db, ['40001', '40P01', '40001', '40P01']);
    const r = await new Engine({ ...deps, db: flaky.db, grouping: false }).start({ ...req, id: 'fifth-try', mode: 'orchestration' });
    expect([r.acted, r.status, flaky.sent()]).toEqual([true, 'in_progress', 5]);
    expect(await balanceOf(t.db, 'user-123')).toBe('900.00');
  });

  test('a fifth deadlock in a row is given up: the error reaches the caller, nothing was written', async () => {
    const flaky = failingFirst(t.db, ['40P01', '40P01', '40P01', '40P01', '40P01']);
    await expect(new Engine({ ...deps, db: flaky.db, grouping: false }).start({ ...req, id: 'given-up', mode: 'orchestration' }))
      .rejects.toMatchObject({ code: '40P01' });
    expect(flaky.sent()).toBe(5);
    expect(await count(`SELECT count(*)::int AS n FROM saga_states WHERE transaction_id = 'given-up'`)).toBe(0);
    expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
  });

  test('an error that is not transient is not retried', async () => {
    const flaky = failingFirst(t.db, ['23514']);
    await expect(new Engine({ ...deps, db: flaky.db, grouping: false }).start({ ...req, id: 'once', mode: 'orchestration' }))
      .rejects.toMatchObject({ code: '23514' });
    expect(flaky.sent()).toBe(1);
  });
});
