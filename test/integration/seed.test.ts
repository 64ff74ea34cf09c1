import { createTestDb, TestDb } from '../support/database';
import { runMain } from '../support/cli';

let t: TestDb;
let env: Record<string, string>;
beforeAll(async () => {
  t = await createTestDb();
  env = { DATABASE_URL: t.url };
});
afterAll(async () => { await t.drop(); });

const cli = (...argv: string[]) => runMain(argv, env);
const users = () => t.db.query(`SELECT user_id, name, balance::text, status, purchase_limit::text, updated_at FROM users ORDER BY user_id`);
const count = async (table: string) => (await t.db.query(`SELECT count(*)::int AS n FROM ${table}`))[0].n;

test("fixtures load exactly the design's rows; a second run changes nothing; --reset puts them back", async () => {
  const first = await cli('seed', 'fixtures', '--json');
  expect(first.code).toBe(0);
  expect(JSON.parse(first.stdout)).toEqual({ users: { inserted: 3, reset: 0 }, items: { inserted: 4, reset: 0 } });
  const loaded = await users();
  expect(loaded.map(({ updated_at: _u, ...u }) => u)).toEqual([
    { user_id: 'user-123', name: 'Test User 123', balance: '1000.00', status: 'active', purchase_limit: '500.00' },
    { user_id: 'user-456', name: 'Test User 456', balance: '50.00', status: 'active', purchase_limit: '100.00' },
    { user_id: 'user-suspended', name: 'Suspended User', balance: '1000.00', status: 'suspended', purchase_limit: '0.00' },
  ]);
  expect(await t.db.query(`SELECT item_id, name, price::text, stock, is_available FROM items ORDER BY item_id`)).toEqual([
    { item_id: 'item-disabled', name: 'Disabled Item', price: '50.00', stock: 10, is_available: false },
    { item_id: 'item-out-of-stock', name: 'Rare Gem', price: '500.00', stock: 0, is_available: true },
    { item_id: 'item-potion', name: 'Health Potion', price: '20.00', stock: 100, is_available: true },
    { item_id: 'item-sword', name: 'Magic Sword', price: '100.00', stock: 50, is_available: true },
  ]);
  await t.db.query(`UPDATE users SET balance = 1.00 WHERE user_id = 'user-123'`);
  const second = await cli('seed', 'fixtures', '--json');
  expect(JSON.parse(second.stdout)).toEqual({ users: { inserted: 0, reset: 0 }, items: { inserted: 0, reset: 0 } });
  expect((await users())[0].balance).toBe('1.00');
  const reset = await cli('seed', 'fixtures', '--reset');
  expect(reset.stdout).toContain('users: 0 inserted, 1 reset');
  expect((await users())[0].balance).toBe('1000.00');
});

test('generate is deterministic, keeps existing rows on a re-run, and reports its speed', async () => {
  const r = await cli('seed', 'generate', '--users', '500', '--items', '20', '--seed', '9', '--json');
  expect(r.code).toBe(0);
  const summary = JSON.parse(r.stdout);
  expect(summary).toMatchObject({ users: 500, items: 20, rows: 520, skipped: 0, seed: 9 });
  expect(summary.rowsPerSecond).toBeGreaterThan(0);
  const snapshot = await t.db.query(`SELECT user_id, balance::text FROM users WHERE user_id LIKE 'gen-%' ORDER BY user_id LIMIT 50`);
  const again = await cli('seed', 'generate', '--users', '600', '--seed', '9', '--json');
  expect(JSON.parse(again.stdout)).toMatchObject({ users: 600, skipped: 500 });
  expect(await t.db.query(`SELECT user_id, balance::text FROM users WHERE user_id LIKE 'gen-%' ORDER BY user_id LIMIT 50`)).toEqual(snapshot);
  expect(await count('users')).toBe(3 + 600);
  const fixed = await cli('seed', 'generate', '--items', '3', '--stock', '7', '--seed', '1');
  expect(fixed.code).toBe(0);
  expect(fixed.stdout).toMatch(/generated 0 users and 3 items/);
});

test('reset needs --yes off a terminal, then empties the domain tables and keeps the audit trail', async () => {
  await t.db.query(`INSERT INTO operator_audit (os_user, host, action, reason, outcome) VALUES ('u', 'h', 'compensate', 'r', 'ok')`);
  const refused = await cli('seed', 'reset');
  expect(refused.code).toBe(2);
  expect(await count('users')).toBeGreaterThan(0);
  const r = await cli('seed', 'reset', '--yes');
  expect(r.code).toBe(0);
  expect(await count('users')).toBe(0);
  expect(await count('items')).toBe(0);
  expect(await count('operator_audit')).toBe(1);
});

test.each([
  ['--users', 'abc'], ['--items', '-5'], ['--seed', 'x'], ['--balance', '1.234'], ['--balance', '-1'], ['--stock', '-1'],
])('generate %s %s: exit 2, nothing written', async (option, value) => {
  const before = await count('users');
  const r = await cli('seed', 'generate', '--users', '5', option, value);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(option);
  expect(await count('users')).toBe(before);
});

test('generate with nothing to generate is a usage error', async () => {
  const r = await cli('seed', 'generate');
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('Nothing to generate');
});
