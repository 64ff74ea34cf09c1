import net from 'node:net';
import { createClient } from '@redis/client';
import { createTestDb, TestDb } from '../support/database';
import { runMain } from '../support/cli';
import { redisAvailable, redisUrl, uniqueSuffix } from '../support/redis';
import { loadFixtures } from '../../src/seed/fixtures';
import { INVALIDATE_BATCH, RedisSagaCache } from '../../src/cache/redis-cache';
import { encodeSagaView, SAGA_CACHE, TOMBSTONE } from '../../src/cache/saga-cache';
import { getSaga } from '../../src/saga/queries';

// Database 14 of the test Redis, and key names unique to this run: nothing else is touched.
const REDIS_DB = 14;
const URL = redisUrl(REDIS_DB);
const testRedis = redisAvailable('cache-redis.test.ts') ? test : test.skip;
const TIMEOUTS = { connectTimeoutMs: 500, commandTimeoutMs: 500 };
/** Room for a loaded 2-core machine on top of the timeouts being measured. */
const SLACK_MS = 1000;

let t: TestDb;
let redis: ReturnType<typeof createClient>;
let run: string;
const id = (name: string) => `${name}-${run}`;
beforeAll(async () => {
  run = uniqueSuffix();
  t = await createTestDb();
  await loadFixtures(t.db);
  redis = createClient({ url: URL, socket: { reconnectStrategy: false } });
  redis.on('error', () => undefined);
  if (testRedis === test) await redis.connect();
});
afterAll(async () => {
  if (redis.isOpen) {
    const keys = await redis.keys(`*${run}*`);
    if (keys.length > 0) await redis.del(keys);
    await redis.close();
  }
  await t.drop();
});

const cli = (argv: string[], env: Record<string, string> = {}) => runMain(argv, { DATABASE_URL: t.url, REDIS_URL: URL, ...env });
const timed = async <T>(fn: () => Promise<T>) => {
  const started = Date.now();
  const result = await fn();
  return { result, ms: Date.now() - started };
};
/** Sockets and timers alive in this process: a closed cache leaves none behind. */
const handles = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'Timeout').length;

function cacheWith(url: string, prefix: string) {
  const warnings: string[] = [];
  const cache = new RedisSagaCache({ url, ...TIMEOUTS, keyPrefix: prefix, warn: (l) => warnings.push(l) });
  return { cache, warnings };
}

/** A server that accepts connections and never answers: a Redis that hangs. */
async function silentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => sockets.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => { sockets.forEach((s) => s.destroy()); server.close(() => resolve()); }),
  };
}

describe('RedisSagaCache', () => {
  testRedis('set keeps the view for an hour; get gives back the same view, Dates included', async () => {
    await t.db.query(`INSERT INTO saga_states (transaction_id, status, user_id, item_id, quantity, price, mode, completed_at)
                      VALUES ($1, 'completed', 'user-123', 'item-sword', 1, 100.00, 'orchestration', now())`, [id('direct')]);
    const view = await getSaga(t.db, id('direct'));
    const prefix = `t-${run}:`;
    const { cache, warnings } = cacheWith(URL, prefix);
    expect(await cache.get(view.transactionId)).toBeUndefined();
    await cache.set(view);
    const ttl = await redis.ttl(`${prefix}${view.transactionId}`);
    expect(ttl).toBeGreaterThan(SAGA_CACHE.ttlSeconds - 10);
    expect(ttl).toBeLessThanOrEqual(SAGA_CACHE.ttlSeconds);
    expect(await cache.get(view.transactionId)).toEqual(view);
    await cache.close();
    expect(warnings).toEqual([]);
  });

  testRedis('invalidate queues at once and tombstones every key in batches; its promise resolves once they are written', async () => {
    const prefix = `b-${run}:`;
    const ids = Array.from({ length: INVALIDATE_BATCH * 2 + 200 }, (_, i) => `s${i}`);
    await redis.mSet(ids.map((x) => [`${prefix}${x}`, '{}'] as [string, string]));
    const { cache, warnings } = cacheWith(URL, prefix);
    const before = handles();
    const written: Promise<void>[] = [];
    const { ms } = await timed(async () => { for (const x of ids) written.push(cache.invalidate([x])); });
    // 1,200 calls: no round trip was waited for by the caller that does not await.
    expect(ms).toBeLessThan(200);
    await Promise.all(written);
    const values = await redis.mGet(ids.map((x) => `${prefix}${x}`));
    expect(new Set(values)).toEqual(new Set([TOMBSTONE]));
    const ttl = await redis.ttl(`${prefix}s0`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(SAGA_CACHE.tombstoneSeconds);
    // A reader that loaded the saga before the change cannot put it back over the tombstone.
    await cache.set({ transactionId: 's0', status: 'completed', steps: [], total: '1.00' } as never);
    expect(await redis.get(`${prefix}s0`)).toBe(TOMBSTONE);
    expect(await cache.get('s0')).toBeUndefined();
    await cache.close();
    expect(warnings).toEqual([]);
    // The socket is released a moment after QUIT is answered.
    await new Promise((r) => setTimeout(r, 100));
    expect(handles()).toBeLessThanOrEqual(before);
  });

  testRedis('a connection killed mid-way: one warning, then no retries, nothing left running', async () => {
    const { cache, warnings } = cacheWith(URL, `k-${run}:`);
    const before = handles();
    expect(await cache.get('x')).toBeUndefined();
    // This process's cache connections; killing a newer one than ours is harmless in this test run.
    const mine = (await redis.clientList()).filter((c) => c.name === `sagactl:${process.pid}` && c.db === REDIS_DB);
    expect(mine.length).toBeGreaterThan(0);
    for (const c of mine) await redis.sendCommand(['CLIENT', 'KILL', 'ID', String(c.id)]);
    await new Promise((r) => setTimeout(r, 50));
    expect(await cache.get('x')).toBeUndefined();
    await cache.invalidate(['y']);
    await cache.close();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/unavailable/);
    expect(handles()).toBeLessThanOrEqual(before);
  });

  test('a Redis that accepts and never answers costs one command timeout, once', async () => {
    const server = await silentServer();
    try {
      const { cache, warnings } = cacheWith(server.url, 'silent:');
      const { result, ms } = await timed(() => cache.get('x'));
      expect(result).toBeUndefined();
      expect(ms).toBeLessThan(TIMEOUTS.connectTimeoutMs + TIMEOUTS.commandTimeoutMs + SLACK_MS);
      // Off for the rest of the process: later calls return at once.
      const later = await timed(async () => { await cache.get('y'); await cache.invalidate(['z']); await cache.close(); });
      expect(later.ms).toBeLessThan(50);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/^the Redis cache at redis:\/\/127\.0\.0\.1:\d+ is unavailable \(.*took longer than 500 ms\)/);
    } finally {
      await server.close();
    }
  });

  test('invalidations lost to a down Redis are counted in the one warning', async () => {
    const { cache, warnings } = cacheWith('redis://127.0.0.1:1', 'down:');
    await cache.invalidate(['a', 'b', 'c']);
    await cache.close();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/ECONNREFUSED.*3 saga key\(s\) were not invalidated/);
  });
});

describe('saga show through the cache', () => {
  testRedis('a miss fills saga:<id> for an hour with the same JSON as uncached; a hit skips PostgreSQL', async () => {
    const txid = id('show');
    expect((await cli(['saga', 'run', '--user', 'user-123', '--item', 'item-potion', '--id', txid])).code).toBe(0);
    expect(await redis.get(`saga:${txid}`)).toBe(TOMBSTONE);
    await redis.del(`saga:${txid}`); // as if its ten seconds had passed
    const uncached = await cli(['saga', 'show', txid, '--json', '--no-cache']);
    expect(await redis.exists(`saga:${txid}`)).toBe(0);
    const first = await cli(['saga', 'show', txid, '--json']);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(uncached.stdout);
    const ttl = await redis.ttl(`saga:${txid}`);
    expect(ttl).toBeGreaterThan(SAGA_CACHE.ttlSeconds - 10);
    // Changed behind the cache's back: the cache still answers, which proves it is read.
    await t.db.query(`UPDATE saga_states SET error_message = 'changed behind the cache' WHERE transaction_id = $1`, [txid]);
    const second = await cli(['saga', 'show', txid, '--json']);
    expect(second.stdout).toBe(uncached.stdout);
    expect(second.stderr).not.toContain('warning');
    const bypass = await cli(['saga', 'show', txid, '--json', '--no-cache']);
    expect(JSON.parse(bypass.stdout).errorMessage).toBe('changed behind the cache');
    // An operator action invalidates: the next show reads PostgreSQL again.
    const comp = await cli(['saga', 'compensate', txid, '--include-completed', '--reason', 'cache test', '--yes']);
    expect(comp.code).toBe(0);
    expect(await redis.get(`saga:${txid}`)).toBe(TOMBSTONE);
    expect(JSON.parse((await cli(['saga', 'show', txid, '--json'])).stdout).status).toBe('compensated');
  });

  testRedis('saga run invalidates the key of the saga it wrote', async () => {
    const txid = id('run');
    await redis.set(`saga:${txid}`, encodeSagaView({ transactionId: txid, status: 'completed', steps: [], total: '9.99' } as never), { EX: 600 });
    const r = await cli(['saga', 'run', '--user', 'user-123', '--item', 'item-potion', '--id', txid]);
    expect(r.code).toBe(0);
    expect(await redis.get(`saga:${txid}`)).toBe(TOMBSTONE);
    expect(JSON.parse((await cli(['saga', 'show', txid, '--json'])).stdout).status).toBe('completed');
  });

  testRedis('--no-cache neither reads nor writes Redis', async () => {
    const txid = id('nocache');
    await cli(['saga', 'run', '--user', 'user-123', '--item', 'item-potion', '--id', txid, '--no-cache']);
    const r = await cli(['saga', 'show', txid, '--no-cache']);
    expect(r.code).toBe(0);
    expect(await redis.exists(`saga:${txid}`)).toBe(0);
  });

  testRedis('a command leaves no socket or timer behind', async () => {
    const txid = id('handles');
    await cli(['saga', 'run', '--user', 'user-123', '--item', 'item-potion', '--id', txid]);
    const before = handles();
    await cli(['saga', 'show', txid]);
    await cli(['saga', 'run', '--user', 'user-123', '--item', 'item-potion', '--id', id('handles-2')]);
    expect(handles()).toBeLessThanOrEqual(before);
  });

  test('a Redis that is down only warns, once: show and run still succeed, fast', async () => {
    const txid = id('down');
    const env = { REDIS_URL: 'redis://127.0.0.1:1' };
    const ran = await cli(['saga', 'run', '--user', 'user-123', '--item', 'item-potion', '--id', txid], env);
    expect(ran.code).toBe(0);
    expect(ran.stderr.match(/warning/g)).toHaveLength(1);
    const { result, ms } = await timed(() => cli(['saga', 'show', txid, '--json'], env));
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).status).toBe('completed');
    expect(result.stderr).toMatch(/warning: the Redis cache at redis:\/\/127\.0\.0\.1:1 is unavailable \(connect ECONNREFUSED/);
    expect(result.stderr.match(/warning/g)).toHaveLength(1);
    expect(ms).toBeLessThan(TIMEOUTS.connectTimeoutMs + SLACK_MS);
  });

  test('a Redis that hangs costs show at most its timeouts', async () => {
    const server = await silentServer();
    try {
      const txid = id('hang');
      await cli(['saga', 'run', '--user', 'user-123', '--item', 'item-potion', '--id', txid], { REDIS_URL: 'redis://127.0.0.1:1' });
      const { result, ms } = await timed(() => cli(['saga', 'show', txid], { REDIS_URL: server.url }));
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(txid);
      expect(result.stderr).toContain('took longer than 500 ms');
      expect(ms).toBeLessThan(TIMEOUTS.connectTimeoutMs + TIMEOUTS.commandTimeoutMs + SLACK_MS);
    } finally {
      await server.close();
    }
  });
});
