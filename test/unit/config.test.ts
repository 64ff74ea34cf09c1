import { parse } from 'pg-connection-string';
import { defaultPoolSize, isCi, maskUrl, resolveConfig, validateUrl } from '../../src/config';
import { UsageError } from '../../src/errors';

const cwd = '/work/x';
const db = (flags: Parameters<typeof resolveConfig>[0], env: Record<string, string | undefined>) => resolveConfig(flags, env, cwd).database;

/** The UsageError a call throws (exit 2), or a failed expectation if it throws none. */
function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    return err as UsageError;
  }
  throw new Error('expected a UsageError, nothing was thrown');
}

describe('precedence: --database-url > DATABASE_URL > DB_* > PG* > embedded', () => {
  const all = {
    DATABASE_URL: 'postgres://env@h1/d1',
    DB_HOST: 'h2', DB_PORT: '6002', DB_USERNAME: 'dbu', DB_PASSWORD: 'dbp', DB_NAME: 'dbn',
    PGHOST: 'h3', PGPORT: '6003', PGUSER: 'pgu', PGPASSWORD: 'pgp', PGDATABASE: 'pgd',
  };

  test('each source wins over every source below it', () => {
    expect(db({ databaseUrl: 'postgres://flag@h0/d0' }, all)).toEqual({ kind: 'server', url: 'postgres://flag@h0/d0', source: '--database-url' });
    expect(db({}, all)).toEqual({ kind: 'server', url: 'postgres://env@h1/d1', source: 'DATABASE_URL' });
    const { DATABASE_URL: _u, ...parts } = all;
    expect(db({}, parts)).toMatchObject({ kind: 'server', url: 'postgres://dbu:dbp@h2:6002/dbn' });
    const pgOnly = { PGHOST: 'h3', PGPORT: '6003', PGUSER: 'pgu', PGPASSWORD: 'pgp', PGDATABASE: 'pgd' };
    expect(db({}, pgOnly)).toEqual({ kind: 'server', url: 'postgres://pgu:pgp@h3:6003/pgd', source: 'PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE' });
    expect(db({}, {})).toEqual({ kind: 'embedded', home: '/work/x/.sagactl', source: 'embedded default' });
  });

  test('--embedded beats every variable, and excludes --database-url', () => {
    expect(db({ embedded: true }, all)).toEqual({ kind: 'embedded', home: '/work/x/.sagactl', source: '--embedded' });
    expect(usageError(() => db({ embedded: true, databaseUrl: 'postgres://u@h/d' }, {})).message).toMatch(/exclude each other/);
  });

  test('DB_* and PG* are merged variable by variable, DB_* first, and the source names what was used', () => {
    expect(db({}, { DB_HOST: 'svc', PGPORT: '7000', PGUSER: 'pgu', DB_NAME: 'shop' }))
      .toEqual({ kind: 'server', url: 'postgres://pgu@svc:7000/shop', source: 'DB_HOST, DB_NAME, PGPORT, PGUSER' });
    expect(db({}, { DB_USERNAME: 'a', PGUSER: 'b' })).toMatchObject({ url: 'postgres://a@localhost:5432/saga_pattern' });
    expect(db({}, { PGPASSWORD: 'only' })).toMatchObject({ url: 'postgres://postgres:only@localhost:5432/saga_pattern', source: 'PGPASSWORD' });
  });

  test('blank values count as unset', () => {
    expect(db({}, { DATABASE_URL: '  ', DB_HOST: '', PGHOST: 'h3' })).toMatchObject({ url: 'postgres://postgres@h3:5432/saga_pattern', source: 'PGHOST' });
    expect(db({}, { DATABASE_URL: '', DB_HOST: ' ', CI: '' }).kind).toBe('embedded');
  });

  test('a password with URL syntax in it survives the trip into the URL', () => {
    for (const password of ['p@ss/w:rd#?%&=', 'a%41b', '100%', 'sp ace']) {
      const { url } = db({}, { DB_HOST: 'h', DB_USERNAME: 'us:er', DB_PASSWORD: password }) as { url: string };
      const parsed = parse(url);
      expect(parsed.password).toBe(password);
      expect(parsed.user).toBe('us:er');
      expect(parsed.host).toBe('h');
      expect(maskUrl(url)).toBe('postgres://us%3Aer:****@h:5432/saga_pattern');
    }
  });

  test('libpq host forms: a socket folder and a bare IPv6 address', () => {
    const socket = db({}, { PGHOST: '/var/run/postgresql', PGPORT: '5433', PGUSER: 'me' }) as { url: string };
    expect(parse(socket.url)).toMatchObject({ host: '/var/run/postgresql', port: '5433', user: 'me', database: 'saga_pattern' });
    expect(parse((db({}, { DB_HOST: '::1' }) as { url: string }).url).host).toBe('::1');
  });

  test('a host that is not one is refused, never silently replaced by localhost', () => {
    expect(usageError(() => db({}, { DB_HOST: 'db:5433' })).message).toMatch(/DB_HOST must be a host name.*"db:5433"/);
    expect(usageError(() => db({}, { PGHOST: 'my host' })).message).toMatch(/PGHOST must be a host name/);
  });

  test('SAGACTL_HOME moves the embedded folder, relative to the working directory', () => {
    expect(resolveConfig({}, { SAGACTL_HOME: '/tmp/h' }, cwd).home).toBe('/tmp/h');
    expect(db({}, { SAGACTL_HOME: 'state' })).toEqual({ kind: 'embedded', home: '/work/x/state', source: 'embedded default' });
    expect(resolveConfig({}, {}, cwd).connectTimeoutMs).toBe(5000);
  });
});

describe('CI with nothing configured', () => {
  test.each(['true', '1', 'yes', 'TRUE'])('CI=%s refuses, naming every way to configure one', (ci) => {
    const err = usageError(() => db({}, { CI: ci }));
    expect(err.message).toBe('CI is set and no database is configured: refusing to fall back to a throwaway embedded database.');
    expect(err.hint).toContain('--embedded');
    expect(err.hint).toContain('DATABASE_URL');
  });

  test('--embedded, or any configured database, is fine in CI; CI=false/0/empty is not CI', () => {
    expect(db({ embedded: true }, { CI: '1' })).toMatchObject({ kind: 'embedded', source: '--embedded' });
    expect(db({}, { CI: '1', DATABASE_URL: 'postgres://u@h/d' })).toMatchObject({ kind: 'server' });
    expect(db({}, { CI: '1', PGHOST: 'h' })).toMatchObject({ kind: 'server' });
    for (const ci of ['false', '0', '', undefined]) expect(isCi({ CI: ci })).toBe(false);
  });
});

describe('bad settings are usage errors that never echo a password', () => {
  test.each([
    [{ databaseUrl: 'not a url' }, {}, /^--database-url is not a valid URL: "not a url"\.$/],
    [{ databaseUrl: 'mysql://root:hunter2@h/d' }, {}, /^--database-url must start with postgres:\/\/ or postgresql:\/\/, got "mysql:\/\/"\.$/],
    [{ databaseUrl: 'http://h/d' }, {}, /must start with postgres/],
    [{}, { DATABASE_URL: 'postgres:///d' }, /^DATABASE_URL names no host\.$/],
    [{}, { DATABASE_URL: 'postgres://u:hunter2@h:0/d' }, /^DATABASE_URL has an invalid port 0\.$/],
    [{}, { DATABASE_URL: 'postgres://u:hunter2@h:70000/d' }, /^DATABASE_URL is not a valid URL: "postgres:\/\/u:\*\*\*\*@h:70000\/d"\.$/],
    [{}, { DATABASE_URL: 'postgres://u:hun@ter2@h:70000/d' }, /^DATABASE_URL is not a valid URL: "postgres:\/\/u:\*\*\*\*@h:70000\/d"\.$/],
    [{}, { DB_PORT: 'abc' }, /^DB_PORT must be a port number from 1 to 65535, got "abc"\.$/],
    [{}, { DB_HOST: 'h', DB_PORT: '0' }, /DB_PORT must be a port/],
    [{}, { PGPORT: '70000' }, /^PGPORT must be a port/],
    [{}, { DB_PORT: '54 32' }, /DB_PORT must be a port/],
  ])('%j %j', (flags, env, message) => {
    const err = usageError(() => db(flags, env));
    expect(err.message).toMatch(message);
    expect(err.message).not.toMatch(/hunter2|ter2/);
    expect(err.hint).toContain('--database-url');
  });

  test('postgresql:// is accepted and returned as given', () => {
    expect(validateUrl('postgresql://u@h:5432/d?sslmode=require', 'x')).toBe('postgresql://u@h:5432/d?sslmode=require');
  });
});

describe('the pool size', () => {
  test.each(['0', 'abc', '-1', '1.5', '501', '', ' 5', '1e2'])('--pool %j is refused, naming --pool', (pool) => {
    expect(usageError(() => resolveConfig({ pool }, { DB_POOL_SIZE: '10' }, cwd)).message)
      .toBe(`--pool must be a whole number from 1 to 500, got "${pool}".`);
  });

  test('DB_POOL_SIZE when there is no flag; the flag wins; the default fits the cores', () => {
    expect(usageError(() => resolveConfig({}, { DB_POOL_SIZE: '-1' }, cwd)).message).toMatch(/^DB_POOL_SIZE must be/);
    expect(resolveConfig({}, { DB_POOL_SIZE: '12' }, cwd).poolSize).toBe(12);
    expect(resolveConfig({ pool: '7' }, { DB_POOL_SIZE: '12' }, cwd).poolSize).toBe(7);
    expect(resolveConfig({ pool: '500' }, {}, cwd).poolSize).toBe(500);
    expect(resolveConfig({}, { DB_POOL_SIZE: ' ' }, cwd).poolSize).toBe(defaultPoolSize());
    const cores = require('node:os').availableParallelism();
    expect(defaultPoolSize()).toBe(Math.min(20, cores * 4 + 2));
  });
});

describe('maskUrl', () => {
  test.each([
    ['postgres://app:s3cret@h:5432/d', 'postgres://app:****@h:5432/d'],
    ['postgres://app@h/d', 'postgres://app@h/d'],
    ['postgres://h/d', 'postgres://h/d'],
    ['postgres://app:p%40ss@h/d', 'postgres://app:****@h/d'],
    ['postgres://app:p@ss@h/d', 'postgres://app:****@h/d'],
    ['postgres://app@h/d?password=s3cret&sslmode=disable', 'postgres://app@h/d?password=****&sslmode=disable'],
    ['postgres://app@h/d?sslmode=disable', 'postgres://app@h/d?sslmode=disable'],
    // Unparseable URLs are masked by pattern, up to the last '@'.
    ['postgres://app:p@ss@h:99999/d', 'postgres://app:****@h:99999/d'],
    ['postgres://app:s3cret@h:99999/d?password=s3cret', 'postgres://app:****@h:99999/d?password=****'],
    ['not a url', 'not a url'],
  ])('%s', (raw, masked) => {
    expect(maskUrl(raw)).toBe(masked);
  });
});
