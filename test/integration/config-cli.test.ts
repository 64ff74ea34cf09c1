import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDb, serverUrl, TestDb } from '../support/database';
import { runBin, runMain } from '../support/cli';
import { loadMigrations } from '../../src/migrate/loader';

/**
 * Where the database comes from, end to end: each source really reaches the server (a lower one
 * points at a dead port), the first stderr line names it with the password masked, and every bad
 * setting is refused before anything connects.
 */
let t: TestDb;
let migrated: TestDb;
beforeAll(async () => {
  [t, migrated] = await Promise.all([createTestDb({ empty: true }), createTestDb()]);
});
afterAll(async () => { await Promise.all([t.drop(), migrated.drop()]); });

const DEAD = 'postgres://postgres:dead-pw@127.0.0.1:1/nowhere';
const PASSWORD = 'sekrit-pw-42';
/** The test server's URL for a database, with a password (trust auth ignores it; a password server already has one). */
function withPassword(url: string): URL {
  const u = new URL(url);
  if (!u.password) u.password = PASSWORD;
  return u;
}
const masked = (u: URL) => { const m = new URL(u.toString()); m.password = '****'; return m.toString(); };
const tables = async (d = t) => (await d.db.query(`SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace`))[0].n;
const firstLine = (stderr: string) => stderr.split('\n')[0];
function parts(url: URL, prefix: 'DB' | 'PG') {
  const names = prefix === 'DB' ? ['DB_HOST', 'DB_PORT', 'DB_USERNAME', 'DB_PASSWORD', 'DB_NAME'] : ['PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE'];
  const values = [url.hostname, url.port || '5432', decodeURIComponent(url.username), decodeURIComponent(url.password), url.pathname.slice(1)];
  return Object.fromEntries(names.map((n, i) => [n, values[i]]));
}

describe('each source reaches the server, ahead of the ones below it', () => {
  test('--database-url beats DATABASE_URL', async () => {
    const url = withPassword(migrated.url);
    const r = await runMain(['migrate', 'status', '--check', '--database-url', url.toString()], { DATABASE_URL: DEAD });
    expect(r.code).toBe(0);
    expect(firstLine(r.stderr)).toBe(`database: ${masked(url)} (--database-url)`);
  });

  test('DATABASE_URL beats DB_* and PG*', async () => {
    const url = withPassword(migrated.url);
    const r = await runMain(['migrate', 'status', '--check'], { DATABASE_URL: url.toString(), DB_HOST: '127.0.0.1', DB_PORT: '1', PGPORT: '1' });
    expect(r.code).toBe(0);
    expect(firstLine(r.stderr)).toBe(`database: ${masked(url)} (DATABASE_URL)`);
  });

  test('DB_* beat PG*, variable by variable', async () => {
    const url = withPassword(migrated.url);
    const r = await runMain(['migrate', 'status', '--check'], { ...parts(url, 'DB'), PGHOST: '127.0.0.2', PGPORT: '1', PGDATABASE: 'nowhere' });
    expect(r.code).toBe(0);
    expect(firstLine(r.stderr)).toBe(`database: ${masked(url)} (DB_HOST, DB_PORT, DB_USERNAME, DB_PASSWORD, DB_NAME, PGHOST, PGPORT, PGDATABASE)`);
    expect(r.stderr + r.stdout).not.toContain(decodeURIComponent(url.password));
  });

  test('PG* alone', async () => {
    const url = withPassword(migrated.url);
    const r = await runMain(['migrate', 'status', '--check'], parts(url, 'PG'));
    expect(r.code).toBe(0);
    expect(firstLine(r.stderr)).toBe(`database: ${masked(url)} (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE)`);
  });

  const local = new URL(serverUrl());
  const socket = '/var/run/postgresql';
  const viaSocket = fs.existsSync(`${socket}/.s.PGSQL.${local.port || 5432}`) && local.hostname === '127.0.0.1' && !local.password;
  (viaSocket ? test : test.skip)('PGHOST as a socket folder, as libpq takes it', async () => {
    const r = await runMain(['migrate', 'status', '--check'], { PGHOST: socket, PGPORT: local.port || '5432', PGUSER: local.username, PGDATABASE: migrated.name });
    expect(r.code).toBe(0);
    expect(firstLine(r.stderr)).toContain(`?host=${encodeURIComponent(socket)} (PGHOST, PGPORT, PGUSER, PGDATABASE)`);
  });
});

test('the first stderr line of every database command names the database, password masked, and the password is never printed', async () => {
  const url = withPassword(migrated.url);
  const expected = `database: ${masked(url)} (DATABASE_URL)`;
  const commands = [
    ['migrate', 'status'], ['migrate', 'plan'], ['migrate', 'validate'], ['migrate', 'down', '--yes'], ['migrate', 'up'],
    ['seed', 'fixtures'], ['seed', 'generate', '--users', '2'], ['seed', 'reset', '--yes'], ['migrate', 'status', '--json'],
  ];
  for (const argv of commands) {
    const r = await runMain(argv, { DATABASE_URL: url.toString() });
    expect([argv, r.code]).toEqual([argv, 0]);
    expect(firstLine(r.stderr)).toBe(expected);
    expect(r.stdout + r.stderr).not.toContain(decodeURIComponent(url.password));
  }
});

describe('bad settings: exit 2 before connecting, nothing written anywhere', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-nohome-'));
  afterAll(() => fs.rmSync(home, { recursive: true, force: true }));
  const target = () => new URL(t.url);

  const cases: [string, () => { argv: string[]; env: Record<string, string> }, RegExp][] = [
    ['a malformed --database-url (and no fallback to DATABASE_URL)', () => ({ argv: ['--database-url', 'postgres://u:pw@h:99999/d'], env: { DATABASE_URL: t.url } }), /--database-url is not a valid URL: "postgres:\/\/u:\*\*\*\*@h:99999\/d"/],
    ['not a URL at all', () => ({ argv: ['--database-url', 'not-a-url'], env: { DATABASE_URL: t.url } }), /--database-url is not a valid URL/],
    ['a non-postgres scheme', () => ({ argv: ['--database-url', 'mysql://root:pw@127.0.0.1/x'], env: { DATABASE_URL: t.url } }), /must start with postgres:\/\/ or postgresql:\/\/, got "mysql:\/\/"/],
    ['a DATABASE_URL with no host', () => ({ argv: [], env: { DATABASE_URL: 'postgres:///x' } }), /DATABASE_URL names no host/],
    ['--pool 0', () => ({ argv: ['--pool', '0'], env: { DATABASE_URL: t.url } }), /--pool must be a whole number from 1 to 500, got "0"/],
    ['--pool abc', () => ({ argv: ['--pool', 'abc'], env: { DATABASE_URL: t.url } }), /--pool must be a whole number/],
    ['DB_POOL_SIZE=-3', () => ({ argv: [], env: { DATABASE_URL: t.url, DB_POOL_SIZE: '-3' } }), /DB_POOL_SIZE must be a whole number/],
    ['DB_PORT=abc', () => ({ argv: [], env: { DB_HOST: target().hostname, DB_NAME: t.name, DB_PORT: 'abc' } }), /DB_PORT must be a port number from 1 to 65535, got "abc"/],
    ['DB_HOST with a port in it', () => ({ argv: [], env: { DB_HOST: `${target().hostname}:5432`, DB_NAME: t.name } }), /DB_HOST must be a host name/],
    ['--embedded with --database-url', () => ({ argv: ['--embedded', '--database-url', t.url], env: { SAGACTL_HOME: home } }), /exclude each other/],
    ['CI=1 with nothing configured', () => ({ argv: [], env: { CI: '1', SAGACTL_HOME: home } }), /CI is set and no database is configured/],
    ['an unknown option', () => ({ argv: ['--frobnicate'], env: { DATABASE_URL: t.url } }), /unknown option '--frobnicate'/],
  ];

  test.each(cases)('%s', async (_name, make, message) => {
    const { argv, env } = make();
    for (const command of [['migrate', 'up'], ['seed', 'generate', '--users', '3']]) {
      const r = await runMain([...command, ...argv], env);
      expect([command, r.code]).toEqual([command, 2]);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/pw@|:pw\b/);
      expect(r.stderr).not.toMatch(/^database:/); // refused before choosing, let alone connecting
    }
    expect(await tables()).toBe(0);
    expect(fs.readdirSync(home)).toEqual([]); // no embedded server was set up either
  });

  test('an unknown command is a usage error', async () => {
    for (const argv of [['frobnicate'], ['migrate', 'sideways'], ['seed', 'plant'], ['db', 'restart']]) {
      const r = await runMain(argv, { DATABASE_URL: t.url });
      expect([argv, r.code]).toEqual([argv, 2]);
      expect(r.stderr).toMatch(/unknown command/);
    }
    expect(await tables()).toBe(0);
  });
});

describe('an unreachable server: exit 4, fast, password masked', () => {
  test.each([[['migrate', 'up']], [['seed', 'fixtures']], [['migrate', 'down', '--yes']], [['migrate', 'status', '--json']]])('%j on port 1', async (argv) => {
    const started = Date.now();
    const r = await runMain(argv, { DATABASE_URL: 'postgres://postgres:hunter2@127.0.0.1:1/x' });
    expect(r.code).toBe(4);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(firstLine(r.stderr)).toBe('database: postgres://postgres:****@127.0.0.1:1/x (DATABASE_URL)');
    expect(r.stderr).toContain(argv.includes('--json') ? '{"error":{"code":"UNREACHABLE","exitCode":4,"message":"Cannot reach PostgreSQL at postgres://postgres:****@127.0.0.1:1/x'
      : 'error: Cannot reach PostgreSQL at postgres://postgres:****@127.0.0.1:1/x');
    expect(r.stderr + r.stdout).not.toContain('hunter2');
    expect(r.stdout).toBe('');
  });

  test('--database-url with port 1, as a real process', async () => {
    const started = Date.now();
    const r = await runBin(['migrate', 'up', '--database-url', 'postgres://postgres@127.0.0.1:1/x']);
    expect(r.code).toBe(4);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(firstLine(r.stderr)).toBe('database: postgres://postgres@127.0.0.1:1/x (--database-url)');
  });

  test('a database that does not exist says how to create it (exit 4)', async () => {
    const url = withPassword(t.url);
    url.pathname = '/sagactl_does_not_exist';
    const r = await runMain(['migrate', 'status'], { DATABASE_URL: url.toString() });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('The database "sagactl_does_not_exist" does not exist');
    expect(r.stderr).toContain('createdb sagactl_does_not_exist');
    expect(r.stderr).not.toContain(decodeURIComponent(url.password));
  });
});

test('a pool of one connection is enough for every migrate and seed command', async () => {
  const env = { DATABASE_URL: t.url, DB_POOL_SIZE: '1' };
  const steps: [string[], number][] = [
    [['migrate', 'plan'], 0], [['migrate', 'status', '--check'], 6], [['migrate', 'up'], 0], [['migrate', 'validate'], 0],
    [['seed', 'fixtures'], 0], [['seed', 'generate', '--users', '20', '--items', '2'], 0], [['seed', 'generate', '--users', '30'], 0],
    [['seed', 'reset', '--yes'], 0], [['migrate', 'down', '--to', '0', '--yes'], 0], [['migrate', 'up', '--pool', '1'], 0],
  ];
  for (const [argv, code] of steps) {
    const r = await runMain(argv, env);
    expect([argv, r.code, r.code === code ? '' : r.stderr]).toEqual([argv, code, '']);
  }
  expect((await t.db.query('SELECT count(*)::int AS n FROM sagactl_migrations'))[0].n).toBe(loadMigrations().length);
  await runMain(['migrate', 'down', '--to', '0', '--yes'], env);
  await t.db.query('DROP TABLE sagactl_migrations');
  expect(await tables()).toBe(0);
});
