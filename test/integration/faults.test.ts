import { Client } from 'pg';
import { createTestDb, TestDb } from '../support/database';
import { runMain } from '../support/cli';
import { balanceOf, stockOf } from '../support/saga';

/**
 * Faults on the shared server that never stop it: a held lock, a statement timeout, a killed
 * backend, settings from PGOPTIONS and the URL, a pool of one. Each ends in its documented exit
 * code with nothing half done.
 */
let t: TestDb;
let env: Record<string, string>;
beforeAll(async () => {
  t = await createTestDb();
  env = { DATABASE_URL: t.url };
  expect((await runMain(['seed', 'fixtures'], env)).code).toBe(0);
});
afterAll(async () => t.drop());

/** A session of another program holding a row lock in an open transaction, as a forgotten psql would. */
async function holdRow(table: 'users' | 'items', id: string, name = 'the-long-transaction'): Promise<Client & { pid: number }> {
  const c = new Client({ connectionString: t.url, application_name: name });
  await c.connect();
  await c.query('BEGIN');
  await c.query(`SELECT 1 FROM ${table} WHERE ${table === 'users' ? 'user_id' : 'item_id'} = $1 FOR UPDATE`, [id]);
  const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  return Object.assign(c, { pid });
}

const sagasOf = async (user: string) => (await t.db.query('SELECT count(*)::int AS n FROM saga_states WHERE user_id = $1', [user]))[0].n;
const run = (...extra: string[]) => ['saga', 'run', '--user', 'user-123', '--item', 'item-sword', ...extra];

describe('a held lock', () => {
  test('on the buyer: exit 4 after --lock-timeout, naming the holder; nothing charged, no saga', async () => {
    const holder = await holdRow('users', 'user-123');
    try {
      const [balance, sagas] = [await balanceOf(t.db, 'user-123'), await sagasOf('user-123')];
      const started = Date.now();
      const r = await runMain(run('--lock-timeout', '300ms'), env);
      expect(Date.now() - started).toBeLessThan(4000);
      expect([r.code, r.stderr]).toEqual([4, expect.stringContaining('Timed out waiting for a lock')]);
      expect(r.stderr).toMatch(new RegExp(`It waited for pid ${holder.pid} \\(the-long-transaction, user \\w+, idle in transaction for \\d+ s in its transaction, holding users\\)`));
      expect(r.stderr).not.toContain('internal error');
      expect([await balanceOf(t.db, 'user-123'), await sagasOf('user-123')]).toEqual([balance, sagas]);
    } finally {
      await holder.end();
    }
  });

  test('on the item (second step): exit 4 naming it, the charged saga released for recovery at once, recover finishes it, db check passes', async () => {
    const holder = await holdRow('items', 'item-sword', 'inventory-batch-job');
    let left: string;
    try {
      const stock = await stockOf(t.db, 'item-sword');
      const r = await runMain(run('--lock-timeout', '300ms'), env);
      expect(r.code).toBe(4);
      expect(r.stderr).toContain(`pid ${holder.pid} (inventory-batch-job`);
      const m = /1 saga\(s\) were left in flight and are free for recovery now: (\S+) \(in_progress\)\. Finish or undo them: sagactl saga recover --yes/.exec(r.stderr);
      expect(m).not.toBeNull();
      left = m![1];
      const [row] = await t.db.query('SELECT status, lease_expires_at <= now() AS free FROM saga_states WHERE transaction_id = $1', [left]);
      expect(row).toEqual({ status: 'in_progress', free: true });
      expect(await stockOf(t.db, 'item-sword')).toBe(stock);
    } finally {
      await holder.end();
    }
    const recovered = await runMain(['saga', 'recover', '--older-than', '0s', '--yes', '--json'], env);
    expect(recovered.code).toBe(0);
    expect(JSON.parse(recovered.stdout).results).toEqual([expect.objectContaining({ transactionId: left, after: 'completed' })]);
    expect((await runMain(['db', 'check'], env)).code).toBe(0);
  });

  test('the lock timeout from PGOPTIONS, the URL\'s options= and DB_LOCK_TIMEOUT reach the engine; the flag beats them', async () => {
    const holder = await holdRow('users', 'user-123');
    try {
      const timed = async (argv: string[], e: Record<string, string>) => {
        const started = Date.now();
        const r = await runMain(argv, e);
        expect([r.code, r.stderr]).toEqual([4, expect.stringContaining('lock timeout')]);
        return Date.now() - started;
      };
      const url = new URL(t.url);
      url.searchParams.set('options', '-c lock_timeout=200ms');
      expect(await timed(run(), { DATABASE_URL: t.url, PGOPTIONS: '-c lock_timeout=200ms' })).toBeLessThan(2500);
      expect(await timed(run(), { DATABASE_URL: url.toString(), PGOPTIONS: '-c lock_timeout=20s' })).toBeLessThan(2500);
      expect(await timed(run(), { DATABASE_URL: t.url, PGOPTIONS: '-c lock_timeout=20s', DB_LOCK_TIMEOUT: '200ms' })).toBeLessThan(2500);
      expect(await timed(run('--lock-timeout', '200ms'), { DATABASE_URL: t.url, DB_LOCK_TIMEOUT: '20s' })).toBeLessThan(2500);
      // Other commands wait no longer than the lock timeout either (seed reset's TRUNCATE behind the row lock).
      expect(await timed(['seed', 'reset', '--yes', '--lock-timeout', '200ms'], env)).toBeLessThan(2500);
    } finally {
      await holder.end();
    }
  });

  test('a statement timeout cancels a statement that waits past it: exit 4 saying so', async () => {
    const holder = await holdRow('users', 'user-123');
    try {
      const r = await runMain(run('--lock-timeout', '20s', '--statement-timeout', '300ms'), env);
      expect([r.code, r.stderr]).toEqual([4, expect.stringContaining('ran past the statement timeout')]);
      expect(r.stderr).toContain('--statement-timeout');
    } finally {
      await holder.end();
    }
  });
});

test('a backend killed mid-statement: exit 4, the connection named, nothing done', async () => {
  const holder = await holdRow('users', 'user-123');
  try {
    const users = (await t.db.query('SELECT count(*)::int AS n FROM users'))[0].n;
    const reset = runMain(['seed', 'reset', '--yes', '--lock-timeout', '20s'], env);
    let victim: number | undefined;
    for (let i = 0; i < 100 && victim === undefined; i++) {
      await new Promise((r) => setTimeout(r, 50));
      victim = (await t.db.query(`SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'sagactl:seed-reset:%' AND wait_event_type = 'Lock'`))[0]?.pid;
    }
    expect(victim).toBeDefined();
    await t.db.query('SELECT pg_terminate_backend($1)', [victim]);
    const r = await reset;
    expect([r.code, r.stderr]).toEqual([4, expect.stringContaining('The database connection failed: terminating connection due to administrator command')]);
    expect((await t.db.query('SELECT count(*)::int AS n FROM users'))[0].n).toBe(users);
  } finally {
    await holder.end();
  }
});

test('a time zone in PGOPTIONS or options= never moves our clock; their other settings still apply', async () => {
  const url = new URL(t.url);
  url.searchParams.set('options', '-c TimeZone=Asia/Tokyo -c statement_timeout=5s');
  const r = await runMain(run('--json'), { DATABASE_URL: url.toString(), PGOPTIONS: '-c TimeZone=Pacific/Kiritimati' });
  expect(r.code).toBe(0);
  const id = JSON.parse(r.stdout).transactionId;
  const [row] = await t.db.query(`SELECT abs(extract(epoch FROM created_at - timezone('UTC', now())))::int AS skew FROM saga_states WHERE transaction_id = $1`, [id]);
  expect(row.skew).toBeLessThan(60);
  // A setting the server refuses is a configuration error (exit 2), named, and nothing ran.
  const bad = await runMain(run(), { DATABASE_URL: t.url, PGOPTIONS: '-c work_mem=lots' });
  expect([bad.code, bad.stderr]).toEqual([2, expect.stringContaining('refused a session setting: invalid value for parameter "work_mem"')]);
});

test('migrate up|down keep their own --lock-timeout: the wait for another run\'s migration lock', async () => {
  const other = new Client({ connectionString: t.url, application_name: 'the-other-deploy' });
  await other.connect();
  try {
    await other.query('SELECT pg_advisory_lock(727310, 1)');
    for (const argv of [['migrate', 'up', '--lock-timeout', '400ms'], ['--lock-timeout', '400ms', 'migrate', 'up']]) {
      const started = Date.now();
      const r = await runMain(argv, env);
      expect([argv, r.code]).toEqual([argv, 4]);
      expect(r.stderr).toMatch(/Timed out after 0\.4s waiting for the migration lock, held by pid \d+ \(the-other-deploy/);
      expect(Date.now() - started).toBeLessThan(3000);
    }
  } finally {
    await other.end();
  }
});

test('bad timeout and TLS settings: exit 2 before connecting, nothing written', async () => {
  const sagas = async () => (await t.db.query('SELECT count(*)::int AS n FROM saga_states'))[0].n;
  const before = await sagas();
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['--lock-timeout', '0'], {}, /--lock-timeout must be from 1ms to 30s: 0 would let a statement wait for a lock forever/],
    [['--lock-timeout', '1h'], {}, /--lock-timeout must be a duration from 1ms to 30s, got "1h"/],
    [['--lock-timeout', 'soon'], {}, /--lock-timeout must be a duration like 30s/],
    [['--statement-timeout', '-5s'], {}, /--statement-timeout must be a duration/],
    [[], { DB_LOCK_TIMEOUT: 'x' }, /DB_LOCK_TIMEOUT must be a duration/],
    [[], { DB_STATEMENT_TIMEOUT: '25h' }, /DB_STATEMENT_TIMEOUT must be a duration from 0 \(none\) to 24h/],
    [[], { PGOPTIONS: '-c statement_timeout=abc' }, /PGOPTIONS \(statement_timeout\) must be a duration/],
    [[], { PGSSLMODE: 'bogus' }, /PGSSLMODE must be one of disable, allow, prefer, require, verify-ca, verify-full, got "bogus"/],
  ];
  for (const [argv, extra, message] of cases) {
    const r = await runMain([...run(), ...argv], { ...env, ...extra });
    expect([argv, extra, r.code]).toEqual([argv, extra, 2]);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/^database:/m);
  }
  const bogus = new URL(t.url);
  bogus.searchParams.set('sslmode', 'bogus');
  const r = await runMain(run(), { DATABASE_URL: bogus.toString() });
  expect([r.code, r.stderr]).toEqual([2, expect.stringContaining('sslmode in the URL must be one of')]);
  expect(await sagas()).toBe(before);
  const help = await runMain(['--help']);
  expect(help.stdout).toMatch(/--lock-timeout <duration>[\s\S]*default\s+5s/);
  expect(help.stdout).toMatch(/--statement-timeout <duration>[\s\S]*0 for\s+none/);
});

test('a pool of one connection is enough for every saga, stats and db command', async () => {
  const one = { ...env, DB_POOL_SIZE: '1' };
  const done = await runMain([...run('--json')], one);
  expect(done.code).toBe(0);
  const id = JSON.parse(done.stdout).transactionId;
  const steps: [string[], number][] = [
    [['db', 'health', '--json'], 0], [['db', 'check'], 0], [['stats', '--json'], 0], [['saga', 'list'], 0], [['saga', 'show', id], 0],
    [['saga', 'stuck'], 0], [['saga', 'load', '--count', '40', '--concurrency', '8', '--user', 'user-456', '--item', 'item-potion'], 0],
    [['saga', 'compensate', id, '--include-completed', '--reason', 'pool of one', '--yes'], 0],
    [['saga', 'recover', '--yes'], 0], [['seed', 'fixtures'], 0],
  ];
  for (const [argv, code] of steps) {
    const started = Date.now();
    const r = await runMain(argv, one);
    expect([argv, r.code, r.code === code ? '' : r.stderr]).toEqual([argv, code, '']);
    expect(Date.now() - started).toBeLessThan(15_000);
  }
});
