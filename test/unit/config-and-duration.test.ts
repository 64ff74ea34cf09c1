import { defaultPoolSize, maskUrl, resolveConfig } from '../../src/config';
import { parseDuration, parseInstant, parseIntOption } from '../../src/duration';
import { checksumOf } from '../../src/migrate/loader';
import { centsToText, draw, itemLine, parseGenerateOptions, userLine } from '../../src/seed/generate';
import { UsageError } from '../../src/errors';

const cwd = '/work/x';

describe('where the database comes from', () => {
  test('--database-url beats DATABASE_URL beats DB_* beats PG* beats embedded', () => {
    const env = { DATABASE_URL: 'postgres://a@h1/d1', DB_HOST: 'h2', PGHOST: 'h3' };
    expect(resolveConfig({ databaseUrl: 'postgres://f@h0/d0' }, env, cwd).database).toEqual({ kind: 'server', url: 'postgres://f@h0/d0', source: '--database-url' });
    expect(resolveConfig({}, env, cwd).database).toMatchObject({ url: 'postgres://a@h1/d1', source: 'DATABASE_URL' });
    expect(resolveConfig({}, { DB_HOST: 'h2', DB_PORT: '6000', DB_USERNAME: 'app', DB_PASSWORD: 's3cret', DB_NAME: 'shop', PGHOST: 'h3' }, cwd).database)
      .toMatchObject({ url: 'postgres://app:s3cret@h2:6000/shop' });
    expect(resolveConfig({}, { PGHOST: 'h3', PGUSER: 'pu', PGDATABASE: 'pd' }, cwd).database)
      .toMatchObject({ url: 'postgres://pu@h3:5432/pd', source: 'PGHOST, PGUSER, PGDATABASE' });
    expect(resolveConfig({}, {}, cwd).database).toEqual({ kind: 'embedded', home: '/work/x/.sagactl', source: 'embedded default' });
    expect(resolveConfig({}, { SAGACTL_HOME: '/tmp/h' }, cwd).home).toBe('/tmp/h');
    expect(resolveConfig({ embedded: true }, { DATABASE_URL: 'postgres://a@h/d' }, cwd).database.kind).toBe('embedded');
  });

  test('in CI with nothing configured it refuses, unless --embedded', () => {
    expect(() => resolveConfig({}, { CI: 'true' }, cwd)).toThrow(/CI is set and no database is configured/);
    expect(resolveConfig({ embedded: true }, { CI: 'true' }, cwd).database.kind).toBe('embedded');
    expect(resolveConfig({}, { CI: 'false' }, cwd).database.kind).toBe('embedded');
  });

  test.each([
    [{ databaseUrl: 'not a url' }, {}, /not a valid URL/],
    [{ databaseUrl: 'mysql://u@h/d' }, {}, /must start with postgres/],
    [{ databaseUrl: 'postgres://u@h/d', embedded: true }, {}, /exclude each other/],
    [{}, { DB_PORT: 'abc' }, /DB_PORT must be a port/],
    [{}, { PGPORT: '70000' }, /PGPORT must be a port/],
    [{ pool: '0' }, {}, /--pool must be a whole number/],
    [{ pool: 'abc' }, {}, /--pool/],
    [{}, { DB_POOL_SIZE: '-1' }, /DB_POOL_SIZE/],
  ])('bad setting %j %j', (flags, env, message) => {
    let err: unknown;
    try { resolveConfig(flags, env, cwd); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).message).toMatch(message);
    expect((err as UsageError).exitCode).toBe(2);
  });

  test('passwords are masked, the pool fits the cores', () => {
    expect(maskUrl('postgres://app:s3cret@h:5432/d')).toBe('postgres://app:****@h:5432/d');
    expect(maskUrl('postgres://app@h/d')).toBe('postgres://app@h/d');
    expect(maskUrl('garbage://x:y@z')).not.toContain('y@');
    expect(defaultPoolSize()).toBeGreaterThanOrEqual(4);
    expect(resolveConfig({ pool: '7' }, {}, cwd).poolSize).toBe(7);
  });
});

describe('durations and instants', () => {
  test('durations', () => {
    expect(parseDuration('500ms', 'x')).toBe(500);
    expect(parseDuration('30s', 'x')).toBe(30_000);
    expect(parseDuration('15m', 'x')).toBe(900_000);
    expect(parseDuration('2h', 'x')).toBe(7_200_000);
    expect(parseDuration('1d', 'x')).toBe(86_400_000);
    expect(parseDuration('60', 'x')).toBe(60_000);
    for (const bad of ['', 'soon', '-5m', '5 m', '1y', '99999d']) expect(() => parseDuration(bad, '--x')).toThrow(UsageError);
  });
  test('instants: ISO or ago', () => {
    const now = Date.parse('2026-11-24T12:00:00Z');
    expect(parseInstant('15m', 'x', now).toISOString()).toBe('2026-11-24T11:45:00.000Z');
    expect(parseInstant('2026-11-01T10:00:00Z', 'x').toISOString()).toBe('2026-11-01T10:00:00.000Z');
    expect(parseInstant('2026-11-01', 'x').toISOString()).toBe('2026-11-01T00:00:00.000Z');
    for (const bad of ['yesterday', '2026-13-45', '2026-11-01T25:00:00Z']) expect(() => parseInstant(bad, '--since')).toThrow(UsageError);
  });
  test('whole numbers within bounds', () => {
    expect(parseIntOption('5', 'x', 1, 10)).toBe(5);
    for (const bad of ['0', '11', 'abc', '1.5', '']) expect(() => parseIntOption(bad, '--n', 1, 10)).toThrow(/--n must be a whole number from 1 to 10/);
  });
});

test('the migration checksum ignores line endings, nothing else', () => {
  expect(checksumOf('a\r\nb\r\n')).toBe(checksumOf('a\nb\n'));
  expect(checksumOf('a\nb\n')).not.toBe(checksumOf('a\nb \n'));
  expect(checksumOf('x')).toMatch(/^[0-9a-f]{64}$/);
});

describe('the generator', () => {
  const opts = { users: 10, items: 5, seed: 42 };
  test('row k is a pure function of (seed, k): the same whatever N, different for another seed', () => {
    expect(userLine({ ...opts, users: 1_000_000 }, 7)).toBe(userLine(opts, 7));
    expect(userLine({ ...opts, seed: 43 }, 7)).not.toBe(userLine(opts, 7));
    expect(userLine(opts, 7)).toMatch(/^gen-user-0000007\tUser 7\t\d+\.\d{2}\tactive\t0\.00\n$/);
    expect(itemLine(opts, 3)).toMatch(/^gen-item-000003\tItem 3\t\d+\.\d{2}\t\d+\tt\n$/);
    expect(userLine({ ...opts, balance: '250.00' }, 1)).toContain('\t250.00\t');
    expect(itemLine({ ...opts, stock: 9 }, 1)).toContain('\t9\tt');
  });
  test('money is drawn in cents and written without floats', () => {
    expect(centsToText(100_000)).toBe('1000.00');
    expect(centsToText(105)).toBe('1.05');
    expect(centsToText(7)).toBe('0.07');
    for (let k = 1; k < 200; k++) {
      const v = draw(1, k, 1, 100, 50_000);
      expect(Number.isInteger(v) && v >= 100 && v <= 50_000).toBe(true);
    }
  });
  test('options are validated', () => {
    expect(parseGenerateOptions({ users: '3', balance: '12.5' })).toEqual({ users: 3, items: 0, seed: 1, balance: '12.50', stock: undefined });
    for (const bad of [{ users: 'abc' }, { items: '-5' }, { users: '1', seed: 'x' }, { users: '1', balance: '1.234' },
      { users: '1', balance: '-1' }, { users: '1', stock: '-1' }, {}]) {
      expect(() => parseGenerateOptions(bad)).toThrow(UsageError);
    }
  });
});
