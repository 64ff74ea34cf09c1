import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { admin, createTestDb, runPrefix, TestDb } from '../support/database';
import { ROOT, runMain } from '../support/cli';
import { assertCanMigrate, missingPrivilege } from '../../src/migrate/privileges';

/**
 * docs/roles.md, applied as written: each command works under the role meant for it, and under a
 * weaker one fails before changing anything (exit 4, the privilege named); the reader's commands
 * work on a read-only database. Roles are cluster-wide, so they are named after this run.
 */
const DOC = fs.readFileSync(path.join(ROOT, 'docs', 'roles.md'), 'utf8');
const blocks = [...DOC.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]);
let t: TestDb;
let names: Record<'migrator' | 'operator' | 'reader', string>;
/** The doc's SQL for this run: its role and database names replaced, its password dropped (the test server trusts). */
const sql = (block: string) => block.replace(/sagactl_(migrator|operator|reader)/g, (_m, r: keyof typeof names) => names[r])
  .replace(/ON DATABASE saga_pattern/g, `ON DATABASE ${t.name}`).replace(/ PASSWORD '[^']*'/g, '');
const as = (role: keyof typeof names) => {
  const url = new URL(t.url);
  url.username = names[role];
  url.password = '';
  return { DATABASE_URL: url.toString() };
};

beforeAll(async () => {
  t = await createTestDb({ empty: true });
  names = { migrator: `${runPrefix()}_migrator`, operator: `${runPrefix()}_operator`, reader: `${runPrefix()}_reader` };
  expect(blocks).toHaveLength(2);
  await admin(async (c) => {
    await c.query(sql(blocks[0]).replace(/GRANT USAGE, CREATE ON SCHEMA public[^;]*;/, ''));
  });
  // The schema grant is per database: given in the test's own database.
  await t.db.query(`GRANT USAGE, CREATE ON SCHEMA public TO ${names.migrator}`);
});

afterAll(async () => {
  await t.drop();
  await admin(async (c) => {
    for (const role of Object.values(names)) await c.query(`DROP ROLE IF EXISTS ${role}`);
  });
});

const money = async () => (await t.db.query(`SELECT (SELECT sum(balance)::text FROM users) AS balances, (SELECT sum(stock)::int FROM items) AS stock,
  (SELECT count(*)::int FROM saga_states) AS sagas, (SELECT count(*)::int FROM operator_audit) AS audits`))[0];

test('the migrator owns the schema; the doc\'s grants apply as the migrator', async () => {
  expect((await runMain(['migrate', 'up'], as('migrator'))).code).toBe(0);
  const c = new Client({ connectionString: t.url });
  await c.connect();
  try {
    await c.query(`SET ROLE ${names.migrator}; ${sql(blocks[1])}`);
  } finally {
    await c.end();
  }
  const [owner] = await t.db.query(`SELECT tableowner FROM pg_tables WHERE tablename = 'saga_states'`);
  expect(owner.tableowner).toBe(names.migrator);
});

test('the operator runs, loads, seeds, compensates and recovers; the ledger gets written without any INSERT on it', async () => {
  const op = as('operator');
  const ok = async (argv: string[], code = 0) => {
    const r = await runMain(argv, op);
    expect([argv, r.code, r.code === code ? '' : r.stderr]).toEqual([argv, code, '']);
    return r;
  };
  await ok(['seed', 'fixtures']);
  await ok(['seed', 'generate', '--users', '5', '--items', '2']);
  const run = await ok(['saga', 'run', '--user', 'user-123', '--item', 'item-sword', '--json']);
  await ok(['saga', 'load', '--count', '20', '--concurrency', '4', '--user', 'user-456', '--item', 'item-potion']);
  await ok(['saga', 'compensate', JSON.parse(run.stdout).transactionId, '--include-completed', '--reason', 'roles test', '--yes']);
  await ok(['saga', 'recover', '--yes']);
  expect((await t.db.query(`SELECT count(*)::int AS n FROM ledger WHERE db_user = $1`, [names.operator]))[0].n).toBeGreaterThan(0);
  const [priv] = await t.db.query(`SELECT has_table_privilege($1, 'ledger', 'INSERT') AS insert`, [names.operator]);
  expect(priv.insert).toBe(false);
});

test('the reader lists, shows, reads stats, health and the check', async () => {
  const [{ id }] = await t.db.query('SELECT transaction_id AS id FROM saga_states LIMIT 1');
  for (const argv of [['saga', 'list'], ['saga', 'show', id], ['saga', 'stuck'], ['stats', '--json'], ['db', 'health', '--json'], ['db', 'check'],
    ['audit', 'list'], ['saga', 'export', '--output', '/dev/null']]) {
    const r = await runMain(argv, as('reader'));
    expect([argv, r.code, r.code === 0 ? '' : r.stderr]).toEqual([argv, 0, '']);
  }
});

test('under a weaker role each writing command fails before changing anything: exit 4, the privileges named', async () => {
  const [{ id }] = await t.db.query(`SELECT transaction_id AS id FROM saga_states WHERE status = 'completed' LIMIT 1`);
  const cases: [string[], RegExp][] = [
    [['saga', 'run', '--user', 'user-123', '--item', 'item-sword'], /lacks .*UPDATE on users.*INSERT on saga_states.*which saga run needs\. Nothing was changed\./],
    [['saga', 'load', '--count', '5'], /which saga load needs/],
    [['saga', 'compensate', id, '--include-completed', '--reason', 'x', '--yes'], /lacks .*INSERT on operator_audit.*which saga compensate needs/],
    [['saga', 'recover', '--yes'], /which saga recover needs/],
    [['seed', 'fixtures'], /lacks INSERT on users, UPDATE on users, INSERT on items, UPDATE on items, which seed fixtures needs/],
    [['seed', 'reset', '--yes'], /TRUNCATE on saga_events.*which seed reset needs/],
    [['saga', 'retry', id, '--reason', 'x', '--yes'], /which saga retry needs/],
    [['saga', 'import', path.join(ROOT, 'package.json')], /lacks .*INSERT on ledger.*which saga import needs/],
    [['saga', 'prune', '--before', '0s', '--yes'], /lacks .*DELETE on saga_states.*which saga prune needs/],
  ];
  const before = await money();
  for (const [argv, message] of cases) {
    const r = await runMain(argv, as('reader'));
    expect([argv, r.code]).toEqual([argv, 4]);
    expect(r.stderr).toMatch(new RegExp(`Permission denied: the role "${names.reader}" `));
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('docs/roles.md');
  }
  // Without the reader's grants (a bare login role) even reading is refused, naming SELECT.
  await admin((c) => c.query(`CREATE ROLE ${runPrefix()}_nobody LOGIN`));
  try {
    await t.db.query(`GRANT USAGE ON SCHEMA public TO ${runPrefix()}_nobody`);
    const url = new URL(t.url);
    url.username = `${runPrefix()}_nobody`;
    const r = await runMain(['saga', 'list'], { DATABASE_URL: url.toString() });
    expect([r.code, r.stderr]).toEqual([4, expect.stringMatching(/lacks SELECT on saga_states, SELECT on saga_step_results, which saga list needs/)]);
    await t.db.query(`REVOKE USAGE ON SCHEMA public FROM ${runPrefix()}_nobody`);
  } finally {
    await admin((c) => c.query(`DROP ROLE ${runPrefix()}_nobody`));
  }
  expect(await money()).toEqual(before);
});

test('on a read-only database the reader\'s commands work, and a writing one fails with exit 4 having changed nothing', async () => {
  await admin((c) => c.query(`ALTER DATABASE ${t.name} SET default_transaction_read_only = on`));
  try {
    const [{ id }] = await t.db.query('SELECT transaction_id AS id FROM saga_states LIMIT 1');
    for (const argv of [['saga', 'list'], ['saga', 'show', id], ['saga', 'stuck'], ['stats', '--json'], ['db', 'health', '--json'], ['db', 'check']]) {
      const r = await runMain(argv, as('reader'));
      expect([argv, r.code, r.code === 0 ? '' : r.stderr]).toEqual([argv, 0, '']);
    }
    const before = await money();
    const r = await runMain(['saga', 'run', '--user', 'user-123', '--item', 'item-sword'], as('operator'));
    expect([r.code, r.stderr]).toEqual([4, expect.stringContaining('The server is read-only')]);
    expect(await money()).toEqual(before);
  } finally {
    await admin((c) => c.query(`ALTER DATABASE ${t.name} RESET default_transaction_read_only`));
  }
});

test('history is rewritten by the migrator, not the operator: saga prune and saga import (docs/roles.md)', async () => {
  for (const argv of [['saga', 'prune', '--before', '0s', '--yes'], ['saga', 'import', path.join(ROOT, 'package.json')]]) {
    const r = await runMain(argv, as('operator'));
    expect([argv, r.code, r.stderr]).toEqual([argv, 4, expect.stringMatching(/Permission denied: .*lacks .*ledger/)]);
  }
  const r = await runMain(['saga', 'prune', '--before', '0s', '--yes', '--json'], as('migrator'));
  expect([r.code, r.code === 0 ? '' : r.stderr]).toEqual([0, '']);
  const [audit] = await t.db.query(`SELECT os_user, outcome FROM operator_audit WHERE action = 'prune' ORDER BY id DESC LIMIT 1`);
  expect(audit.outcome).toBe('done');
  const check = await runMain(['db', 'check', '--json'], as('reader'));
  expect(JSON.parse(check.stdout).checks.filter((c: { ok: boolean; name: string }) => !c.ok && c.name !== 'no_stuck_sagas')).toEqual([]);
});

test('the operator may reset the seeded data (TRUNCATE needs no ownership), the audit trail stays', async () => {
  const audits = (await money()).audits;
  const r = await runMain(['seed', 'reset', '--yes'], as('operator'));
  expect([r.code, r.code === 0 ? '' : r.stderr]).toEqual([0, '']);
  expect(await money()).toEqual({ balances: null, stock: null, sagas: 0, audits });
});

test('migrations refuse up front a role that could not finish them, naming the grant to give', async () => {
  const c = new Client({ connectionString: t.url });
  await c.connect();
  const refusal = (direction: 'up' | 'down') => assertCanMigrate(c, direction).then(() => undefined, (err) => ({ exit: err.exitCode, message: err.message, hint: err.hint }));
  try {
    await c.query(`SET ROLE ${names.operator}`);
    expect(await refusal('up')).toEqual({ exit: 4, message: expect.stringContaining(`The role "${names.operator}" lacks the CREATE privilege on schema public`),
      hint: expect.stringContaining(`GRANT CREATE ON SCHEMA public TO ${names.operator};`) });
    await c.query(`RESET ROLE; GRANT CREATE ON SCHEMA public TO ${names.operator}; SET ROLE ${names.operator}`);
    expect(await refusal('up')).toEqual({ exit: 4, message: expect.stringContaining('lacks INSERT on sagactl_migrations, the migration history. Nothing was applied.'),
      hint: expect.stringContaining('the migrator') });
    expect(await refusal('down')).toEqual(expect.objectContaining({ message: expect.stringContaining('lacks DELETE on sagactl_migrations') }));
    await c.query('SET search_path = nowhere');
    expect(await refusal('up')).toEqual({ exit: 4, message: expect.stringContaining('has no schema to migrate'), hint: expect.stringContaining('search_path') });
    await c.query(`RESET search_path; RESET ROLE; SET ROLE ${names.migrator}`);
    expect(await refusal('up')).toBeUndefined();
    expect(await refusal('down')).toBeUndefined();
  } finally {
    await c.query(`RESET ROLE; REVOKE CREATE ON SCHEMA public FROM ${names.operator}`);
    await c.end();
  }
});

test('a "permission denied" from the server is turned into the grant that is missing', () => {
  expect(missingPrivilege('must be owner of table users')).toBe('ownership of table users');
  expect(missingPrivilege('must be owner of materialized view saga_minutes')).toBe('ownership of materialized view saga_minutes');
  expect(missingPrivilege('permission denied for schema public')).toBe('CREATE (or USAGE) on schema public');
  expect(missingPrivilege('permission denied for table ledger')).toBe('a privilege on table ledger');
  expect(missingPrivilege('permission denied for sequence ledger_id_seq')).toBe('a privilege on sequence ledger_id_seq');
  expect(missingPrivilege('deadlock detected')).toBeUndefined();
});
