import { resolveConfig, validateRedisUrl } from '../../src/config';
import { UsageError } from '../../src/errors';
import { withTimeout } from '../../src/cache/redis-cache';
import { decodeSagaView as decodeView, encodeSagaView as encodeView } from '../../src/cache/saga-cache';
import { isCacheable, readThrough } from '../../src/cache/saga-cache';
import type { SagaCache } from '../../src/cache/saga-cache';
import type { SagaView } from '../../src/saga/queries';
import { runMain } from '../support/cli';

const cwd = '/work/x';

const view = (over: Partial<SagaView> = {}): SagaView => ({
  transactionId: 'order-1', status: 'completed', mode: 'orchestration', userId: 'user-123', itemId: 'item-sword',
  quantity: 1, price: '100.00', total: '100.00', errorCode: null, errorMessage: null,
  createdAt: new Date('2026-11-24T10:00:00.123Z'), updatedAt: new Date('2026-11-24T10:00:00.456Z'),
  completedAt: new Date('2026-11-24T10:00:00.456Z'), leaseOwner: null, leaseExpiresAt: null,
  steps: [{ step: 'validate_user', kind: 'forward', status: 'succeeded', errorCode: null, errorMessage: null,
    data: { amount: '100.00' }, executedAt: '2026-11-24T10:00:00.200Z' as unknown as Date, durationMs: 1.25 }],
  ...over,
});

/** An in-memory SagaCache that counts what it is asked. */
function memoryCache() {
  const store = new Map<string, string>();
  const calls = { get: 0, set: 0 };
  const cache: SagaCache = {
    get: async (id) => { calls.get++; const t = store.get(id); return t === undefined ? undefined : decodeView(t, id); },
    set: async (v) => { calls.set++; store.set(v.transactionId, encodeView(v)); },
    invalidate: async (ids) => { ids.forEach((id) => store.delete(id)); },
    close: async () => undefined,
  };
  return { cache, store, calls };
}

describe('REDIS_URL and --no-cache', () => {
  test('unset: no cache; set: validated and kept with short timeouts; --no-cache: off', () => {
    expect(resolveConfig({}, {}, cwd).redis).toBeUndefined();
    expect(resolveConfig({}, { REDIS_URL: 'redis://127.0.0.1:6379/2' }, cwd).redis)
      .toEqual({ url: 'redis://127.0.0.1:6379/2', connectTimeoutMs: 500, commandTimeoutMs: 500 });
    expect(resolveConfig({}, { REDIS_URL: 'rediss://u:p@cache.example:6380' }, cwd).redis?.url).toBe('rediss://u:p@cache.example:6380');
    expect(resolveConfig({ cache: false }, { REDIS_URL: 'redis://127.0.0.1:6379' }, cwd).redis).toBeUndefined();
    // --no-cache is the way out of a broken REDIS_URL too.
    expect(resolveConfig({ cache: false }, { REDIS_URL: 'nonsense' }, cwd).redis).toBeUndefined();
  });

  test.each([
    ['nonsense', /not a valid URL/],
    ['http://127.0.0.1:6379', /must start with redis:\/\/ or rediss:\/\//],
    ['redis://:6379', /not a valid URL/],
    ['redis://h:0', /invalid port 0/],
    ['redis://h:99999', /not a valid URL/],
    ['redis://h:6379/cache', /database number/],
    ['redis://u:s3cret@h:6379/x', /database number/],
  ])('bad REDIS_URL %s', (raw, message) => {
    let err: unknown;
    try { validateRedisUrl(raw); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    expect((err as UsageError).message).toMatch(message);
    expect((err as UsageError).message).not.toContain('s3cret');
    expect((err as UsageError).hint).toContain('--no-cache');
  });

  test('the CLI refuses a malformed REDIS_URL with exit 2 before connecting anywhere', async () => {
    const r = await runMain(['saga', 'show', 'x'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/x', REDIS_URL: 'redis://h:0' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('REDIS_URL has an invalid port 0');
    expect(r.stderr).not.toContain('database:');
  });
});

describe('the cached view', () => {
  test('survives the JSON round trip: same Dates, same JSON as uncached', () => {
    const v = view();
    const back = decodeView(encodeView(v), v.transactionId)!;
    expect(back).toEqual(v);
    expect(back.createdAt).toBeInstanceOf(Date);
    expect(JSON.stringify(back)).toBe(JSON.stringify(v));
    const running = view({ completedAt: null, leaseExpiresAt: new Date('2026-11-24T10:00:30Z') });
    expect(decodeView(encodeView(running), 'order-1')).toEqual(running);
  });

  test('anything unexpected is a miss, never an error', () => {
    expect(decodeView('{not json', 'order-1')).toBeUndefined();
    expect(decodeView('null', 'order-1')).toBeUndefined();
    expect(decodeView(encodeView(view()), 'another-id')).toBeUndefined();
    expect(decodeView(JSON.stringify({ transactionId: 'order-1' }), 'order-1')).toBeUndefined();
  });
});

describe('read-through', () => {
  test('a miss loads and fills; a hit does not load', async () => {
    const { cache, calls } = memoryCache();
    let loads = 0;
    const load = async (id: string) => { loads++; return view({ transactionId: id }); };
    expect((await readThrough(cache, 'order-1', load)).transactionId).toBe('order-1');
    expect(await readThrough(cache, 'order-1', load)).toEqual(view());
    expect(loads).toBe(1);
    expect(calls).toEqual({ get: 2, set: 1 });
  });

  test('a saga still moving is never cached; every final status is', async () => {
    for (const status of ['pending', 'in_progress', 'compensating']) expect(isCacheable(view({ status }))).toBe(false);
    for (const status of ['completed', 'failed', 'compensated', 'compensation_failed']) expect(isCacheable(view({ status }))).toBe(true);
    const { cache, store } = memoryCache();
    await readThrough(cache, 'order-1', async () => view({ status: 'in_progress' }));
    expect(store.size).toBe(0);
  });

  test('a missing saga is not cached and its error passes through', async () => {
    const { cache, store } = memoryCache();
    await expect(readThrough(cache, 'nope', async () => { throw new Error('No saga'); })).rejects.toThrow('No saga');
    expect(store.size).toBe(0);
  });
});

test('withTimeout: settles with the call, or rejects after the time without leaving a timer', async () => {
  await expect(withTimeout(Promise.resolve(7), 50, 'x')).resolves.toBe(7);
  const started = Date.now();
  await expect(withTimeout(new Promise(() => undefined), 30, 'a command')).rejects.toThrow('a command took longer than 30 ms');
  expect(Date.now() - started).toBeLessThan(1000);
  // A late rejection of the losing call is not an unhandled rejection.
  await expect(withTimeout(new Promise((_, reject) => setTimeout(() => reject(new Error('late')), 20)), 5, 'y')).rejects.toThrow('took longer');
  await new Promise((r) => setTimeout(r, 30));
});
