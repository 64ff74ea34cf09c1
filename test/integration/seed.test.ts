import { createTestDb, TestDb } from '../support/database';
import { runMain } from '../support/cli';
import { itemLine, userLine } from '../../src/seed/generate';

let t: TestDb;
let other: TestDb;
beforeAll(async () => {
  [t, other] = await Promise.all([createTestDb(), createTestDb()]);
});
afterAll(async () => { await Promise.all([t.drop(), other.drop()]); });
beforeEach(async () => {
  for (const d of [t, other]) {
    await d.db.query('TRUNCATE saga_events, saga_step_results, notifications, transaction_logs, saga_states, items, users, operator_audit RESTART IDENTITY');
  }
});

const cli = (...argv: string[]) => runMain(argv, { DATABASE_URL: t.url });
const count = async (table: string, d = t) => (await d.db.query(`SELECT count(*)::int AS n FROM ${table}`))[0].n;
/** Every column of every row, money as text, plus xmin: a row rewritten with equal values still shows. */
const users = (d = t, where = 'true') => d.db.query(
  `SELECT user_id, name, balance::text, status, purchase_limit::text, created_at, updated_at, xmin::text FROM users WHERE ${where} ORDER BY user_id`);
const items = (d = t, where = 'true') => d.db.query(
  `SELECT item_id, name, price::text, stock, is_available, created_at, updated_at, xmin::text FROM items WHERE ${where} ORDER BY item_id`);
const content = <T extends Record<string, unknown>>(rows: T[]) => rows.map(({ created_at: _c, updated_at: _u, xmin: _x, ...r }) => r);

describe('seed fixtures', () => {
  test("loads exactly the design's rows, money as written", async () => {
    const r = await cli('seed', 'fixtures', '--json');
    expect(r.code).toBe(0);
    expect(r.stderr.split('\n')[0]).toBe(`database: ${t.url} (DATABASE_URL)`);
    expect(JSON.parse(r.stdout)).toEqual({ users: { inserted: 3, reset: 0 }, items: { inserted: 4, reset: 0 } });
    expect(content(await users())).toEqual([
      { user_id: 'user-123', name: 'Test User 123', balance: '1000.00', status: 'active', purchase_limit: '500.00' },
      { user_id: 'user-456', name: 'Test User 456', balance: '50.00', status: 'active', purchase_limit: '100.00' },
      { user_id: 'user-suspended', name: 'Suspended User', balance: '1000.00', status: 'suspended', purchase_limit: '0.00' },
    ]);
    expect(content(await items())).toEqual([
      { item_id: 'item-disabled', name: 'Disabled Item', price: '50.00', stock: 10, is_available: false },
      { item_id: 'item-out-of-stock', name: 'Rare Gem', price: '500.00', stock: 0, is_available: true },
      { item_id: 'item-potion', name: 'Health Potion', price: '20.00', stock: 100, is_available: true },
      { item_id: 'item-sword', name: 'Magic Sword', price: '100.00', stock: 50, is_available: true },
    ]);
  });

  test('a second run changes nothing, not even updated_at; nor does --reset when nothing drifted', async () => {
    expect((await cli('seed', 'fixtures')).code).toBe(0);
    const before = [await users(), await items()];
    const second = await cli('seed', 'fixtures');
    expect(second.code).toBe(0);
    expect(second.stdout).toBe('users: 0 inserted, 0 reset\nitems: 0 inserted, 0 reset\n');
    const reset = await cli('seed', 'fixtures', '--reset', '--json');
    expect(JSON.parse(reset.stdout)).toEqual({ users: { inserted: 0, reset: 0 }, items: { inserted: 0, reset: 0 } });
    expect([await users(), await items()]).toEqual(before);
  });

  test('without --reset a drifted row is kept; --reset puts back only the drifted rows and re-creates deleted ones', async () => {
    expect((await cli('seed', 'fixtures')).code).toBe(0);
    await t.db.query(`UPDATE users SET balance = 1.00 WHERE user_id = 'user-123'`);
    await t.db.query(`UPDATE items SET stock = 3, is_available = false WHERE item_id = 'item-sword'`);
    await t.db.query(`DELETE FROM items WHERE item_id = 'item-potion'`);
    const untouched = await users(t, `user_id <> 'user-123'`);

    const plain = await cli('seed', 'fixtures', '--json');
    expect(JSON.parse(plain.stdout)).toEqual({ users: { inserted: 0, reset: 0 }, items: { inserted: 1, reset: 0 } });
    expect((await users(t, `user_id = 'user-123'`))[0].balance).toBe('1.00');
    expect((await items(t, `item_id = 'item-sword'`))[0]).toMatchObject({ stock: 3, is_available: false });

    const reset = await cli('seed', 'fixtures', '--reset');
    expect(reset.code).toBe(0);
    expect(reset.stdout).toBe('users: 0 inserted, 1 reset\nitems: 0 inserted, 1 reset\n');
    expect((await users(t, `user_id = 'user-123'`))[0].balance).toBe('1000.00');
    expect((await items(t, `item_id = 'item-sword'`))[0]).toMatchObject({ stock: 50, is_available: true });
    expect(await users(t, `user_id <> 'user-123'`)).toEqual(untouched);
  });

  test('two runs at once insert each row once, and both succeed', async () => {
    const runs = await Promise.all([cli('seed', 'fixtures', '--json'), cli('seed', 'fixtures', '--json')]);
    expect(runs.map((r) => r.code)).toEqual([0, 0]);
    const inserted = runs.map((r) => JSON.parse(r.stdout)).reduce((n, s) => n + s.users.inserted + s.items.inserted, 0);
    expect(inserted).toBe(7);
    expect([await count('users'), await count('items')]).toEqual([3, 4]);
  });
});

describe('seed generate', () => {
  test('the same seed writes the same rows into two databases; row k is the same whatever N', async () => {
    const a = await cli('seed', 'generate', '--users', '12000', '--items', '30', '--seed', '9', '--json');
    expect(a.code).toBe(0);
    const b = await runMain(['seed', 'generate', '--users', '7000', '--items', '10', '--seed', '9'], { DATABASE_URL: other.url });
    expect(b.code).toBe(0);
    expect([await count('users'), await count('items'), await count('users', other), await count('items', other)]).toEqual([12000, 30, 7000, 10]);
    // Across a chunk boundary (5,000 rows a chunk) and past N of the smaller run.
    const sample = `user_id IN ('gen-user-0000001', 'gen-user-0005000', 'gen-user-0005001', 'gen-user-0007000')`;
    expect(content(await users(t, sample))).toEqual(content(await users(other, sample)));
    expect(content(await users(t, `user_id <= 'gen-user-0007000'`))).toEqual(content(await users(other)));
    expect(content(await items(t, `item_id <= 'gen-item-000010'`))).toEqual(content(await items(other)));
    // The database holds exactly the generator's text.
    const opts = { users: 12000, items: 30, seed: 9 };
    const last = (await users(t, `user_id = 'gen-user-0012000'`))[0];
    expect(`${last.user_id}\t${last.name}\t${last.balance}\t${last.status}\t${last.purchase_limit}\n`).toBe(userLine(opts, 12000));
    const item = (await items(t, `item_id = 'gen-item-000030'`))[0];
    expect(`${item.item_id}\t${item.name}\t${item.price}\t${item.stock}\t${item.is_available ? 't' : 'f'}\n`).toBe(itemLine(opts, 30));
    // Another seed over rows that exist keeps them.
    const c = await runMain(['seed', 'generate', '--users', '5', '--seed', '10', '--json'], { DATABASE_URL: other.url });
    expect(JSON.parse(c.stdout).skipped).toBe(5);
  });

  test('--json reports rows, seconds and rows per second', async () => {
    const r = await cli('seed', 'generate', '--users', '500', '--items', '20', '--seed', '3', '--json');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toEqual({ seed: 3, users: 500, items: 20, rows: 520, inserted: 520, skipped: 0, seconds: expect.any(Number),
      rowsPerSecond: expect.any(Number) });
    expect(s.seconds).toBeGreaterThan(0);
    expect(s.rowsPerSecond).toBe(Math.round(520 / s.seconds));
    const human = await cli('seed', 'generate', '--items', '25', '--seed', '3');
    expect(human.stdout).toMatch(/^seeded 0 users, 25 items \(seed 3\): 5 new, 20 existed, in \d+\.\d\d s \(\d+ rows\/s written\)\n$/);
  });

  test('--balance and --stock are written to every row', async () => {
    const r = await cli('seed', 'generate', '--users', '40', '--items', '6', '--balance', '250.5', '--stock', '7');
    expect(r.code).toBe(0);
    expect(await t.db.query(`SELECT DISTINCT balance::text AS b, purchase_limit::text AS l, status FROM users`)).toEqual([{ b: '250.50', l: '0.00', status: 'active' }]);
    expect(await t.db.query(`SELECT DISTINCT stock, is_available FROM items`)).toEqual([{ stock: 7, is_available: true }]);
  });

  test('a re-run over existing rows keeps them, adds the new ones and reports the rest as skipped', async () => {
    expect((await cli('seed', 'fixtures')).code).toBe(0);
    expect((await cli('seed', 'generate', '--users', '300', '--items', '5', '--seed', '9')).code).toBe(0);
    await t.db.query(`UPDATE users SET balance = 1.00 WHERE user_id = 'gen-user-0000002'`);
    const before = await users(t, `user_id LIKE 'gen-%'`);
    // Another seed and a larger N: the 300 stay as they are (even the edited one), 100 are new.
    const again = await cli('seed', 'generate', '--users', '400', '--items', '5', '--seed', '77', '--json');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ users: 400, items: 5, rows: 405, inserted: 100, skipped: 305 });
    expect(await users(t, `user_id LIKE 'gen-%' AND user_id <= 'gen-user-0000300'`)).toEqual(before);
    const added = (await users(t, `user_id = 'gen-user-0000301'`))[0];
    expect(added.balance).toBe(userLine({ users: 400, items: 0, seed: 77 }, 301).split('\t')[2]);
    expect([await count('users'), await count('items')]).toEqual([3 + 400, 4 + 5]);
  });

  test('a re-run over rows that all exist writes nothing and says so: 0 new, N existed', async () => {
    expect((await cli('seed', 'generate', '--users', '3000', '--items', '7', '--seed', '4')).code).toBe(0);
    const before = await users();
    const again = await cli('seed', 'generate', '--users', '3000', '--items', '7', '--seed', '4');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^seeded 3000 users, 7 items \(seed 4\): 0 new, 3007 existed, in \d+\.\d\d s\n$/);
    expect(await users()).toEqual(before); // not even rewritten: xmin unchanged
    // A non-generated id that sorts among the generated ones is not taken for one of them.
    await t.db.query(`DELETE FROM users WHERE user_id = 'gen-user-0000010'`);
    await t.db.query(`INSERT INTO users (user_id, name, balance) VALUES ('gen-user-000001x', 'impostor', 0)`);
    const json = JSON.parse((await cli('seed', 'generate', '--users', '3000', '--seed', '4', '--json')).stdout);
    expect(json).toMatchObject({ inserted: 1, skipped: 2999 });
  });

  test('the tables that got rows are ANALYZEd: the planner knows their size at once', async () => {
    const estimate = async (table: string) =>
      (await t.db.query(`SELECT reltuples::bigint AS n FROM pg_class WHERE oid = $1::regclass`, [table]))[0].n;
    expect((await cli('seed', 'generate', '--users', '20000', '--items', '300')).code).toBe(0);
    expect(Number(await estimate('users'))).toBe(20000);
    expect(Number(await estimate('items'))).toBe(300);
    const health = JSON.parse((await cli('db', 'health', '--json')).stdout);
    expect(health.tables.find((x: { table: string }) => x.table === 'users').rowsEstimate).toBe(20000);
  });

  test.each([
    ['--users', 'abc'], ['--items', '-5'], ['--seed', 'x'], ['--balance', '1.234'], ['--balance', '-1'], ['--stock', '-1'],
    ['--users', '1.5'], ['--stock', 'many'],
  ])('%s %s: exit 2 naming the option, nothing written', async (option, value) => {
    const r = await cli('seed', 'generate', '--users', '5', '--items', '5', option, value);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: ${option} must be`);
    expect([await count('users'), await count('items')]).toEqual([0, 0]);
  });

  test('with nothing to generate it is a usage error', async () => {
    for (const argv of [['seed', 'generate'], ['seed', 'generate', '--users', '0', '--items', '0']]) {
      const r = await cli(...argv);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('Nothing to generate: give --users N and/or --items M.');
    }
  });
});

describe('seed generate --sagas: whole sagas', () => {
  test('steps, logs, notifications, events and ledger movements: db check passes but for the stuck it makes on purpose', async () => {
    const fresh = await createTestDb();
    const run = (...argv: string[]) => runMain(argv, { DATABASE_URL: fresh.url });
    try {
      expect((await run('seed', 'generate', '--users', '50', '--items', '10', '--sagas', '3000', '--end', '2026-11-01')).code).toBe(0);
      const check = JSON.parse((await run('db', 'check', '--json')).stdout);
      expect(check.checks.filter((c: { ok: boolean }) => !c.ok).map((c: { name: string }) => c.name)).toEqual(['no_stuck_sagas']);
      const stuck = check.checks.find((c: { name: string }) => c.name === 'no_stuck_sagas').count;
      expect(stuck).toBe((await fresh.db.query(`SELECT count(*)::int AS n FROM saga_states
        WHERE status IN ('pending', 'in_progress', 'compensating', 'compensation_failed')`))[0].n);
      // Every step that moved money or stock has its movement; balances are what was seeded.
      expect((await fresh.db.query(`SELECT count(*)::int AS n FROM ledger WHERE source = 'saga'`))[0].n).toBeGreaterThan(5000);
      const [{ id }] = await fresh.db.query(`SELECT transaction_id AS id FROM saga_states WHERE status = 'compensated' ORDER BY 1 LIMIT 1`);
      const shown = JSON.parse((await run('saga', 'show', id, '--json')).stdout);
      expect(shown.steps.map((x: { step: string; kind: string; status: string }) => `${x.step}:${x.kind}:${x.status}`)).toEqual(
        ['validate_user:forward:succeeded', 'reserve_inventory:forward:failed', 'validate_user:compensation:succeeded']);
      // Again, with more sagas: the first 3000 are kept as they are, only the new ones get their history.
      const steps = await count('saga_step_results', fresh);
      expect((await run('seed', 'generate', '--sagas', '3100', '--users', '50', '--items', '10', '--end', '2026-11-01')).code).toBe(0);
      expect(await count('saga_step_results', fresh)).toBeGreaterThan(steps);
      expect(await count('saga_step_results', fresh)).toBeLessThan(steps * 1.1);
      const again = JSON.parse((await run('db', 'check', '--json')).stdout);
      expect(again.checks.filter((c: { ok: boolean }) => !c.ok).map((c: { name: string }) => c.name)).toEqual(['no_stuck_sagas']);
    } finally {
      await fresh.drop();
    }
  });
});

describe('seed reset', () => {
  async function fill() {
    expect((await cli('seed', 'fixtures')).code).toBe(0);
    await t.db.query(`INSERT INTO saga_states (transaction_id, status, user_id, item_id, quantity, price, mode)
                      VALUES ('t1', 'completed', 'user-123', 'item-sword', 1, 100.00, 'choreography')`);
    await t.db.query(`INSERT INTO saga_step_results (transaction_id, step, status) VALUES ('t1', 'validate_user', 'succeeded')`);
    await t.db.query(`INSERT INTO saga_events (transaction_id, event_type) VALUES ('t1', 'reserve_inventory.run')`);
    await t.db.query(`INSERT INTO transaction_logs (log_id, transaction_id, user_id, item_id, quantity, price, status)
                      VALUES ('l1', 't1', 'user-123', 'item-sword', 1, 100.00, 'logged')`);
    await t.db.query(`INSERT INTO notifications (notification_id, transaction_id, user_id, type, message, channels)
                      VALUES ('n1', 't1', 'user-123', 'purchase', 'ok', '["email"]')`);
    await t.db.query(`INSERT INTO operator_audit (os_user, host, action, reason, outcome) VALUES ('u', 'h', 'compensate', 'r', 'compensated')`);
  }
  const DOMAIN = ['saga_events', 'saga_step_results', 'notifications', 'transaction_logs', 'saga_states', 'items', 'users', 'ledger'];
  const counts = async () => Object.fromEntries(await Promise.all([...DOMAIN, 'operator_audit'].map(async (n) => [n, await count(n)])));

  test('needs --yes without a terminal, and then empties the domain tables and keeps the audit trail', async () => {
    await fill();
    const full = await counts();
    expect(Object.values(full).every((n) => n > 0)).toBe(true);
    const refused = await cli('seed', 'reset');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('Pass --yes to confirm non-interactively.');
    expect(await counts()).toEqual(full);

    const r = await cli('seed', 'reset', '--yes', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ emptied: DOMAIN });
    expect(await counts()).toEqual({ ...Object.fromEntries(DOMAIN.map((n) => [n, 0])), operator_audit: 1 });
    // A reseeded database works as new (identities go on counting: restarting them needs their ownership).
    await fill();
    expect(await count('saga_events')).toBe(1);
  });
});

test('on a database that was never migrated every seed command says to migrate (exit 3) and creates nothing', async () => {
  const empty = await createTestDb({ empty: true });
  try {
    for (const argv of [['seed', 'fixtures'], ['seed', 'generate', '--users', '3'], ['seed', 'reset', '--yes']]) {
      const r = await runMain(argv, { DATABASE_URL: empty.url });
      expect([argv, r.code]).toEqual([argv, 3]);
      expect(r.stderr).toMatch(/error: The schema is not migrated: relation "\w+" does not exist\.\nRun `sagactl migrate up` first\./);
    }
    expect(await empty.db.query(`SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace`)).toEqual([]);
  } finally {
    await empty.drop();
  }
});
