import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'pg-connection-string';
import { DEFAULT_LOCK_TIMEOUT_MS, resolveConfig } from '../../src/config';
import { DEFAULT_LOCK_TIMEOUT_MS as ENGINE_DEFAULT } from '../../src/saga/engine';
import { formatOptions, parseOptions, parsePgDuration } from '../../src/db/session-options';
import { attemptsFor, connectionUrl, fallsBack, resolveTls, tlsFailure } from '../../src/db/tls';
import { normalizeUrl } from '../../src/db/pool';
import { databaseError } from '../../src/db/pg-errors';
import { UsageError } from '../../src/errors';

const URL_ = 'postgres://u:pw@db.example:5432/shop';
const config = (flags: Parameters<typeof resolveConfig>[0], env: Record<string, string | undefined>) => resolveConfig(flags, env, '/w');
const settings = (options: string) => Object.fromEntries([...parseOptions(options).settings.values()].map((s) => [s.name, s.value]));

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('libpq options strings', () => {
  test('every spelling of a setting is read, other words are kept, escapes survive a round trip', () => {
    const p = parseOptions('-c search_path=app -cwork_mem=64MB --statement-timeout=5s -B 100 -c application_name=a\\ b');
    expect(Object.fromEntries([...p.settings.entries()].map(([k, v]) => [k, v.value])))
      .toEqual({ search_path: 'app', work_mem: '64MB', statement_timeout: '5s', application_name: 'a b' });
    expect(p.other).toEqual(['-B', '100']);
    const again = parseOptions(formatOptions(p.settings.values(), p.other));
    expect([...again.settings.values()]).toEqual([...p.settings.values()]);
    expect(again.other).toEqual(p.other);
    expect(parseOptions(undefined).settings.size).toBe(0);
    expect(parseOptions('-c TimeZone=Asia/Tokyo').settings.get('timezone')?.value).toBe('Asia/Tokyo');
  });

  test('PostgreSQL time values: no unit is milliseconds', () => {
    expect(parsePgDuration('1500')).toBe(1500);
    expect(parsePgDuration('2s')).toBe(2000);
    expect(parsePgDuration('1min')).toBe(60_000);
    expect(parsePgDuration('250ms')).toBe(250);
    expect(parsePgDuration('0')).toBe(0);
    expect(parsePgDuration('5 minutes')).toBeUndefined();
    expect(parsePgDuration('abc')).toBeUndefined();
  });
});

describe('timeouts and session settings: flag > DB_* > URL options= > PGOPTIONS > default; TimeZone=UTC always ours', () => {
  test('defaults: a 5 s lock timeout (the engine\'s own), no statement timeout sent', () => {
    const c = config({ databaseUrl: URL_ }, {});
    expect(DEFAULT_LOCK_TIMEOUT_MS).toBe(ENGINE_DEFAULT);
    expect(c.lockTimeoutMs).toBe(5000);
    expect(c.statementTimeoutMs).toBeUndefined();
    expect(settings(c.sessionOptions)).toEqual({ TimeZone: 'UTC', lock_timeout: '5000ms' });
  });

  test('each source wins over the ones below it', () => {
    const env = { PGOPTIONS: '-c lock_timeout=1s -c statement_timeout=10s -c work_mem=8MB -c search_path=a' };
    const url = `${URL_}?options=${encodeURIComponent('-c lock_timeout=2s -c search_path=b')}`;
    expect(config({ databaseUrl: URL_ }, env)).toMatchObject({ lockTimeoutMs: 1000, statementTimeoutMs: 10_000 });
    const fromUrl = config({ databaseUrl: url }, env);
    expect(fromUrl).toMatchObject({ lockTimeoutMs: 2000, statementTimeoutMs: 10_000 });
    expect(settings(fromUrl.sessionOptions)).toEqual({ TimeZone: 'UTC', lock_timeout: '2000ms', statement_timeout: '10000ms', work_mem: '8MB', search_path: 'b' });
    expect(config({ databaseUrl: url }, { ...env, DB_LOCK_TIMEOUT: '3s', DB_STATEMENT_TIMEOUT: '0' }))
      .toMatchObject({ lockTimeoutMs: 3000, statementTimeoutMs: 0 });
    expect(config({ databaseUrl: url, lockTimeout: '400ms', statementTimeout: '1m' }, { ...env, DB_LOCK_TIMEOUT: '3s' }))
      .toMatchObject({ lockTimeoutMs: 400, statementTimeoutMs: 60_000 });
  });

  test('a time zone given anywhere is replaced by UTC', () => {
    const c = config({ databaseUrl: `${URL_}?options=-c%20TimeZone%3DAsia%2FTokyo` }, { PGOPTIONS: '-c timezone=America/New_York' });
    expect(settings(c.sessionOptions).TimeZone).toBe('UTC');
    expect(Object.keys(settings(c.sessionOptions)).filter((k) => k.toLowerCase() === 'timezone')).toHaveLength(1);
  });

  test.each([
    [{ lockTimeout: 'soon' }, {}, /--lock-timeout must be a duration/],
    [{ lockTimeout: '0' }, {}, /--lock-timeout must be from 1ms to 30s: 0 would let a statement wait for a lock forever/],
    [{ lockTimeout: '31s' }, {}, /--lock-timeout must be a duration from 1ms to 30s, got "31s"/],
    [{}, { DB_LOCK_TIMEOUT: '-1s' }, /DB_LOCK_TIMEOUT must be a duration/],
    [{ statementTimeout: '2d' }, {}, /--statement-timeout must be a duration from 0 \(none\) to 24h, got "2d"/],
    [{}, { DB_STATEMENT_TIMEOUT: 'x' }, /DB_STATEMENT_TIMEOUT must be a duration/],
    [{}, { PGOPTIONS: '-c lock_timeout=abc' }, /PGOPTIONS \(lock_timeout\) must be a duration from 1ms to 30s, got "abc"/],
    [{}, { PGOPTIONS: '-c lock_timeout=0' }, /PGOPTIONS \(lock_timeout\) must be from 1ms to 30s: 0 would/],
  ])('%j %j is refused', (flags, env, message) => {
    expect(usageError(() => config({ databaseUrl: URL_, ...flags }, env)).message).toMatch(message);
  });

  test('the URL\'s own options are named in a refusal', () => {
    expect(usageError(() => config({ databaseUrl: `${URL_}?options=-c%20statement_timeout%3Dforever` }, {})).message)
      .toMatch(/options= in the URL \(statement_timeout\) must be a duration/);
  });
});

describe('sslmode with libpq\'s meanings', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-tls-unit-'));
  const ca = path.join(dir, 'root.crt');
  fs.writeFileSync(ca, 'not parsed here');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('from the URL, else PGSSLMODE, else prefer (disable over a Unix socket and for the embedded server)', () => {
    expect(resolveTls(`${URL_}?sslmode=require`, { PGSSLMODE: 'disable' })).toEqual({ mode: 'require', source: 'sslmode in the URL' });
    expect(resolveTls(URL_, { PGSSLMODE: 'verify-full' })).toMatchObject({ mode: 'verify-full', source: 'PGSSLMODE' });
    expect(resolveTls(URL_, {}).mode).toBe('prefer');
    expect(resolveTls('postgres://u@localhost/d?host=%2Fvar%2Frun%2Fpostgresql', {}).mode).toBe('disable');
    expect(config({ embedded: true }, { PGSSLMODE: 'require' }).tls.mode).toBe('disable');
    expect(config({ databaseUrl: URL_ }, { PGSSLMODE: 'allow' }).tls.mode).toBe('allow');
  });

  test.each([
    [`${URL_}?sslmode=bogus`, {}, /sslmode in the URL must be one of disable, allow, prefer, require, verify-ca, verify-full, got "bogus"/],
    [URL_, { PGSSLMODE: 'on' }, /PGSSLMODE must be one of/],
    [`${URL_}?sslmode=verify-ca`, {}, /verify-ca needs sslrootcert/],
    [`${URL_}?sslmode=verify-full&sslrootcert=/nonexistent/root.crt`, {}, /cannot read the file "\/nonexistent\/root.crt"/],
    [`${URL_}?sslmode=require&sslrootcert=system`, {}, /sslrootcert=system .* needs sslmode=verify-full/],
  ])('%s %j is exit 2 before connecting', (url, env, message) => {
    const err = usageError(() => config({ databaseUrl: url }, env));
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(message);
  });

  test('attempts in libpq\'s order, and what node-postgres is told for each', () => {
    expect(attemptsFor('prefer')).toEqual(['unverified', 'disable']);
    expect(attemptsFor('allow')).toEqual(['disable', 'unverified']);
    expect(attemptsFor('verify-full')).toEqual(['verify-full']);
    const parsed = (attempt: Parameters<typeof connectionUrl>[1], root?: string) =>
      parse(connectionUrl(`${URL_}?sslmode=bogus&options=x&application_name=app`, attempt, root, '-c TimeZone=UTC')) as Record<string, any>;
    expect(parsed('require').ssl).toEqual({ rejectUnauthorized: false });
    expect(parsed('unverified').ssl).toEqual({ rejectUnauthorized: false });
    expect(parsed('unverified', ca).ssl).toEqual({ rejectUnauthorized: false }); // prefer never verifies
    expect(parsed('disable').ssl).toBe(false);
    expect(parsed('verify-full', ca).ssl).toEqual({ ca: 'not parsed here' });
    expect(parsed('verify-ca', ca).ssl).toMatchObject({ ca: 'not parsed here', checkServerIdentity: expect.any(Function) });
    expect(parsed('require', ca).ssl).toMatchObject({ ca: 'not parsed here', checkServerIdentity: expect.any(Function) });
    expect(parsed('verify-full', 'system').ssl).toEqual({});
    expect(parsed('disable')).toMatchObject({ options: '-c TimeZone=UTC', application_name: 'app' });
  });

  test('fallbacks: prefer when the server has no TLS, allow when it demands it; certificate failures are named', () => {
    expect(fallsBack('unverified', new Error('The server does not support SSL connections'))).toBe(true);
    expect(fallsBack('unverified', Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }))).toBe(false);
    expect(fallsBack('disable', Object.assign(new Error('no pg_hba.conf entry for host "127.0.0.1", user "u", database "d", no encryption'), { code: '28000' }))).toBe(true);
    expect(fallsBack('require', new Error('The server does not support SSL connections'))).toBe(false);
    expect(tlsFailure(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }))).toEqual({ certificate: true, reason: 'self-signed certificate' });
    expect(tlsFailure(new Error('connect ECONNREFUSED 127.0.0.1:1'))).toBeUndefined();
  });

  test('the library\'s URLs: options merged with UTC, sslmode as libpq, idempotent', () => {
    const once = normalizeUrl(`${URL_}?sslmode=require&options=${encodeURIComponent('-c TimeZone=Asia/Tokyo -c work_mem=8MB')}`);
    expect(normalizeUrl(once)).toBe(once);
    const p = parse(once) as Record<string, any>;
    expect(p.options).toBe('-c TimeZone=UTC -c work_mem=8MB');
    expect(p.ssl).toEqual({ rejectUnauthorized: false });
    expect((parse(normalizeUrl(URL_)) as Record<string, any>).ssl).toBe(false); // node-postgres's own default, unchanged
  });
});

describe('every SQLSTATE class has its documented exit code', () => {
  const e = (code: string, message = 'x', extra: object = {}) => Object.assign(new Error(message), { code, ...extra });
  test.each([
    ['55P03', 'canceling statement due to lock timeout', 4, /Timed out waiting for a lock/],
    ['57014', 'canceling statement due to statement timeout', 4, /ran past the statement timeout/],
    ['57014', 'canceling statement due to user request', 4, /cancelled on the server/],
    ['42501', 'permission denied for table users', 4, /Permission denied: permission denied for table users/],
    ['57P01', 'terminating connection due to administrator command', 4, /connection failed/],
    ['53300', 'sorry, too many clients already', 4, /no free connection/],
    ['08006', 'connection failure', 4, /connection failed/],
    ['ECONNREFUSED', 'connect ECONNREFUSED', 4, /connection failed/],
    ['28P01', 'password authentication failed', 4, /Authentication failed/],
    ['3D000', 'database "x" does not exist', 4, /does not exist/],
    ['25006', 'cannot execute UPDATE in a read-only transaction', 4, /read-only/],
    ['40001', 'could not serialize access', 4, /Gave up after retries/],
    ['40P01', 'deadlock detected', 4, /Gave up after retries/],
    ['53100', 'could not extend file: No space left on device', 4, /out of resources/],
    ['XX000', 'internal', 4, /server failed/],
    ['22023', 'invalid value for parameter "lock_timeout": "x"', 2, /refused a setting/],
    ['42704', 'unrecognized configuration parameter "frob"', 2, /refused a setting/],
    ['22003', 'numeric field overflow', 2, /refused a value/],
    ['23514', 'new row violates check constraint', 3, /refused the change \(users_balance_non_negative\)/],
    ['42P01', 'relation "saga_states" does not exist', 3, /schema is missing/],
    ['42703', 'column "mode" does not exist', 3, /schema is missing/],
    ['42P07', 'relation "users" already exists', 3, /already has it/],
  ])('%s %s -> %i', (code, message, exit, text) => {
    const mapped = databaseError(e(code, message, { constraint: 'users_balance_non_negative' }));
    expect(mapped?.exitCode).toBe(exit);
    expect(mapped?.message).toMatch(text);
  });

  test.each([['42601', 'syntax error'], ['25P02', 'current transaction is aborted'], ['0A000', 'not supported'], [undefined, 'TypeError']])(
    '%s is a bug (exit 1)', (code, message) => {
      expect(databaseError(code ? e(code, message) : new TypeError(message))).toBeUndefined();
    });

  test('a certificate refusal says so, not "is the server running"', () => {
    const mapped = databaseError(Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }));
    expect(mapped?.exitCode).toBe(4);
    expect(mapped?.message).toMatch(/certificate was refused/);
  });
});
