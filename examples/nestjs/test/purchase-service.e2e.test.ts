import crypto from 'node:crypto';
import os from 'node:os';
import { Pool } from 'pg';
import { createClient } from '@redis/client';
import { AppProcess, startApp } from '../bench/app-process';
import { createAgent, generatedPurchase, HttpReply, requestJson, runHttpLoad } from '../bench/http-load';
import { createDatabase, sagactl, TestDatabase } from './support/server';
import { cents, Holdings, moneyDifferences, readHoldings } from './support/money';
import { redisAvailable, redisUrl } from './support/redis';

/**
 * The design's purchase service, built and started as real processes on loopback ports, on a
 * database of its own that sagactl migrated and seeded, with real Redis: purchases over HTTP in
 * both modes, the CLI reporting exactly what the service did, an instance killed with SIGKILL
 * under load and its sagas finished by the survivor, an operator refund seen at once through the
 * cache, and the design's load shape. The scenarios run in order on one database.
 */
const RUN = crypto.randomBytes(3).toString('hex');
const withRedis = redisAvailable();
const REDIS = withRedis ? redisUrl() : undefined;
const testRedis = withRedis ? test : test.skip;
const agent = createAgent(64);

let db: TestDatabase;
let pg: Pool;
let opening: Holdings;
let a: AppProcess;
let b: AppProcess;
const started: AppProcess[] = [];

async function start(instance: string): Promise<AppProcess> {
  const app = await startApp({ databaseUrl: db.url, redisUrl: REDIS, instance,
    // Fast rounds so a survivor takes over within a second; a dead process on this host counts as stuck at once.
    env: { RECOVERY_EVERY_MS: '500', DB_POOL_SIZE: '10' } });
  started.push(app);
  return app;
}

const get = (app: AppProcess, path: string) => requestJson(agent, 'GET', `${app.url}${path}`, undefined, 10_000);
const cli = (...args: string[]) => sagactl([...args, '--json'], { databaseUrl: db.url, redisUrl: REDIS });

/** Waits (bounded) until nothing is pending, in progress or compensating. */
async function settled(timeoutMs: number): Promise<number> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pg.query(`SELECT count(*)::int AS n FROM saga_states WHERE status IN ('pending', 'in_progress', 'compensating')`);
    if (rows[0].n === 0 || Date.now() > until) return rows[0].n;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function expectDbCheckPasses(): Promise<void> {
  const check = await cli('db', 'check');
  const failed = check.json().checks.filter((c: { ok: boolean }) => !c.ok);
  expect(failed).toEqual([]);
  expect(check.code).toBe(0);
}

beforeAll(async () => {
  db = await createDatabase('e2e', { generated: true });
  pg = new Pool({ connectionString: db.url, max: 2 });
  opening = await readHoldings(pg);
  [a, b] = await Promise.all([start('a'), start('b')]);
}, 120_000);

afterAll(async () => {
  agent.destroy();
  await Promise.all(started.map((app) => app.stop(5000)));
  await pg?.end();
  await db?.drop();
}, 60_000);

/** The design's fixtures, each purchase with its one possible outcome whatever the interleaving. */
interface Group { name: string; count: number; body: (k: number) => Record<string, unknown>; outcomes: Record<string, number> }
const gen = (k: number) => `gen-user-${String((k % 100) + 1).padStart(7, '0')}`;
const GROUPS: Group[] = [
  // 100 buyers, 50 swords: exactly 50 sold, the rest refunded when the stock runs out.
  { name: 'sword-rush', count: 100, body: (k) => ({ userId: gen(k), itemId: 'item-sword', quantity: 1 }),
    outcomes: { 'completed/': 50, 'compensated/INSUFFICIENT_STOCK': 50 } },
  // user-123 has 1000.00: 50 potions at 20.00, then the balance is short.
  { name: 'potions', count: 60, body: () => ({ userId: 'user-123', itemId: 'item-potion', quantity: 1 }),
    outcomes: { 'completed/': 50, 'failed/INSUFFICIENT_BALANCE': 10 } },
  { name: 'over-limit', count: 20, body: () => ({ userId: 'user-123', itemId: 'item-sword', quantity: 6 }),
    outcomes: { 'failed/PURCHASE_LIMIT_EXCEEDED': 20 } },
  { name: 'short-balance', count: 20, body: () => ({ userId: 'user-456', itemId: 'item-sword', quantity: 1 }),
    outcomes: { 'failed/INSUFFICIENT_BALANCE': 20 } },
  { name: 'suspended', count: 20, body: () => ({ userId: 'user-suspended', itemId: 'item-potion', quantity: 1 }),
    outcomes: { 'failed/USER_NOT_ACTIVE': 20 } },
  { name: 'out-of-stock', count: 20, body: (k) => ({ userId: gen(k), itemId: 'item-out-of-stock', quantity: 1 }),
    outcomes: { 'compensated/INSUFFICIENT_STOCK': 20 } },
  { name: 'disabled', count: 20, body: (k) => ({ userId: gen(k), itemId: 'item-disabled', quantity: 1 }),
    outcomes: { 'compensated/ITEM_NOT_AVAILABLE': 20 } },
  { name: 'plenty', count: 40, body: (k) => ({ userId: gen(k), itemId: `gen-item-${String((k % 10) + 1).padStart(6, '0')}`, quantity: 2 }),
    outcomes: { 'completed/': 40 } },
];

interface Sent { id: string; group: string; body: Record<string, unknown>; reply?: HttpReply }
const firstWave: Sent[] = [];

describe('the purchase service on sagactl, end to end', () => {
  test('hundreds of concurrent purchases in both modes over two instances, with the design\'s rejections', async () => {
    for (const g of GROUPS) {
      for (let k = 0; k < g.count; k++) {
        const id = `e2e-${RUN}-${g.name}-${k}`;
        firstWave.push({ id, group: g.name, body: { ...g.body(k), mode: k % 2 === 0 ? 'orchestration' : 'choreography', id } });
      }
    }
    // Interleaved, so every group races every other one across both instances.
    const order = firstWave.map((s, i) => ({ s, key: crypto.createHash('sha1').update(`${RUN}${i}`).digest('hex') }))
      .sort((x, y) => x.key.localeCompare(y.key)).map((x) => x.s);
    const report = await runHttpLoad({ urls: [a.url, b.url], count: order.length, concurrency: order.length,
      body: (i) => order[i].body, timeoutMs: 60_000 });
    order.forEach((s, i) => (s.reply = report.replies[i] as HttpReply));

    expect(report.byStatus.error).toBeUndefined();
    for (const g of GROUPS) {
      const replies = firstWave.filter((s) => s.group === g.name);
      const seen: Record<string, number> = {};
      for (const s of replies) {
        const saga = s.reply!.body;
        expect({ id: saga.transactionId, mode: saga.mode, http: s.reply!.status })
          .toEqual({ id: s.id, mode: s.body.mode, http: saga.status === 'completed' ? 201 : 422 });
        const key = `${saga.status}/${saga.errorCode ?? ''}`;
        seen[key] = (seen[key] ?? 0) + 1;
      }
      expect({ group: g.name, outcomes: seen }).toEqual({ group: g.name, outcomes: g.outcomes });
    }
    const completed = firstWave.find((s) => s.reply!.body.status === 'completed')!.reply!.body;
    expect(completed.steps.map((st: { step: string; status: string }) => `${st.step}:${st.status}`))
      .toEqual(['validate_user:succeeded', 'reserve_inventory:succeeded', 'log_transaction:succeeded', 'send_notification:succeeded']);
    const now = await readHoldings(pg);
    expect(now.balances.get('user-123')).toBe(0);
    expect(now.stock.get('item-sword')).toBe(0);
    expect(now.stock.get('item-potion')).toBe(50);
    expect(await moneyDifferences(pg, opening)).toEqual([]);
    console.log(`first wave: ${report.count} purchases at concurrency ${report.concurrency} over 2 instances in ${report.wallSeconds} s, `
      + `p50 ${report.latencyMs.p50} ms, p95 ${report.latencyMs.p95} ms, replies ${JSON.stringify(report.byStatus)}`);
  });

  test('saga list, saga show, stats and db check (the CLI) report exactly those sagas', async () => {
    const listed = new Map<string, { status: string; errorCode: string | null; mode: string }>();
    let after: string | undefined;
    do {
      const page = await cli('saga', 'list', '--limit', '200', ...(after ? ['--after', after] : []));
      expect(page.code).toBe(0);
      for (const s of page.json().sagas) listed.set(s.transactionId, s);
      after = page.json().nextCursor ?? undefined;
    } while (after);
    expect([...listed.keys()].sort()).toEqual(firstWave.map((s) => s.id).sort());
    for (const s of firstWave) {
      const row = listed.get(s.id)!;
      expect({ id: s.id, status: row.status, errorCode: row.errorCode, mode: row.mode })
        .toEqual({ id: s.id, status: s.reply!.body.status, errorCode: s.reply!.body.errorCode, mode: s.body.mode });
    }
    const samples = GROUPS.map((g) => firstWave.find((s) => s.group === g.name)!);
    const shown = await Promise.all(samples.map((s) => cli('saga', 'show', s.id)));
    samples.forEach((s, i) => expect({ code: shown[i].code, saga: shown[i].json() }).toEqual({ code: 0, saga: s.reply!.body }));
    const stats = (await cli('stats')).json();
    expect({ total: stats.total, completed: stats.completed, failed: stats.failed, compensated: stats.compensated,
      pending: stats.pending, inProgress: stats.inProgress, compensating: stats.compensating, byMode: stats.byMode })
      .toEqual({ total: 300, completed: 140, failed: 70, compensated: 90, pending: 0, inProgress: 0, compensating: 0,
        byMode: { orchestration: 150, choreography: 150 } });
    await expectDbCheckPasses();
  });

  testRedis('an operator refund with the CLI is seen at once through the service\'s Redis cache, and refunds once', async () => {
    const bought = firstWave.find((s) => s.group === 'plenty')!;
    const { userId, itemId } = bought.body as { userId: string; itemId: string };
    const before = await readHoldings(pg);
    const redis = createClient({ url: REDIS, socket: { connectTimeout: 2000, reconnectStrategy: false } });
    redis.on('error', () => undefined);
    await redis.connect();
    try {
      // The tombstone the purchase left lives a minute; dropping it is that minute passing.
      await redis.del(`saga:${bought.id}`);
      expect((await get(a, `/sagas/${bought.id}`)).body.status).toBe('completed');
      expect(JSON.parse((await redis.get(`saga:${bought.id}`))!).saga.status).toBe('completed');
      expect((await get(b, `/sagas/${bought.id}`)).body.status).toBe('completed');

      const refund = await cli('saga', 'compensate', bought.id, '--yes', '--reason', 'customer refund (e2e)', '--include-completed');
      expect(refund.code).toBe(0);
      for (const app of [a, b]) {
        const seen = await get(app, `/sagas/${bought.id}`);
        expect({ http: seen.status, status: seen.body.status }).toEqual({ http: 200, status: 'compensated' });
      }
      const again = await cli('saga', 'compensate', bought.id, '--yes', '--reason', 'customer refund, again (e2e)', '--include-completed');
      expect(again.code).toBe(3);
    } finally {
      await redis.quit().catch(() => undefined);
    }
    const after = await readHoldings(pg);
    expect(after.balances.get(userId)! - before.balances.get(userId)!).toBe(cents(bought.reply!.body.total));
    expect(after.stock.get(itemId)! - before.stock.get(itemId)!).toBe(2);
    expect(await moneyDifferences(pg, opening)).toEqual([]);
    await expectDbCheckPasses();
  });

  test('one of two instances killed with SIGKILL under load: the survivor finishes every saga it left', async () => {
    const COUNT = 600;
    const ids = Array.from({ length: COUNT }, (_, i) => `e2e-${RUN}-kill-${i}`);
    const bodies = ids.map((id, i) => ({ ...generatedPurchase(i, i % 2 === 0 ? 'orchestration' : 'choreography'), id }));
    const owner = `${os.hostname()}:${a.pid}:`;
    const victim = a;
    let fromA = 0;
    let done = false;
    const load = runHttpLoad({ urls: [victim.url, b.url], count: COUNT, concurrency: 200, body: (i) => bodies[i], timeoutMs: 60_000,
      onReply: (i, r) => void (i % 2 === 0 && !('error' in r) && fromA++) });
    void load.finally(() => (done = true));
    // Killed mid-flight, once it has answered some and holds a batch of sagas in the middle of their
    // steps: no shutdown hook runs, its leases stay as they were.
    const inFlight = async () => (await pg.query(`SELECT transaction_id FROM saga_states
       WHERE starts_with(lease_owner, $1) AND status IN ('pending', 'in_progress', 'compensating')`, [owner])).rows.map((r) => r.transaction_id);
    const deadline = Date.now() + 30_000;
    while (!done && Date.now() < deadline && !(fromA >= 50 && (await inFlight()).length >= 10)) await new Promise((r) => setTimeout(r, 5));
    await victim.kill();
    const left: string[] = await inFlight();
    const report = await load;
    expect(await settled(30_000)).toBe(0);

    // The survivor's recovery loop claimed them (audited under its name), not the dead one before dying.
    const { rows: audit } = await pg.query(`SELECT DISTINCT transaction_id FROM operator_audit
       WHERE action = 'recover' AND outcome = 'claimed' AND os_user = 'purchase-service/b' AND starts_with(transaction_id, $1)`, [`e2e-${RUN}-kill-`]);
    const recovered = new Set(audit.map((r) => r.transaction_id));
    const leftBehind = [...new Set([...left, ...recovered])];
    expect(leftBehind.length).toBeGreaterThan(0);
    expect(left.filter((id) => !recovered.has(id))).toEqual([]);
    const lost = ids.filter((_, i) => 'error' in report.replies[i]);
    expect(lost.length).toBeGreaterThan(0);

    // Clients whose request died with the instance retry on the survivor with the same id: each is executed once.
    const retries = await Promise.all(lost.map((id) => requestJson(agent, 'POST', `${b.url}/purchases`, bodies[ids.indexOf(id)], 30_000)));
    expect(retries.filter((r) => r.status !== 201).map((r) => r.body)).toEqual([]);

    const { rows } = await pg.query(`SELECT status, count(*)::int AS n FROM saga_states WHERE starts_with(transaction_id, $1) GROUP BY status`,
      [`e2e-${RUN}-kill-`]);
    expect(Object.fromEntries(rows.map((r) => [r.status, r.n]))).toEqual({ completed: COUNT });
    const [stuck, ...unfinished] = await Promise.all([cli('saga', 'stuck'),
      ...['pending', 'in_progress', 'compensating'].map((status) => cli('saga', 'list', '--status', status))]);
    expect(stuck.json().stuck).toEqual([]);
    expect(unfinished.flatMap((r) => r.json().sagas)).toEqual([]);
    expect(await moneyDifferences(pg, opening)).toEqual([]);
    await expectDbCheckPasses();
    expect((await get(b, '/health')).status).toBe(200);
    console.log(`kill -9: ${COUNT} purchases at concurrency 200, instance a (pid ${victim.pid}) killed after ${fromA} replies; `
      + `${left.length} of its sagas in flight at the kill, ${recovered.size} claimed and finished by b's recovery loop; ${lost.length} lost requests retried on b `
      + `(same ids, each executed once); replies ${JSON.stringify(report.byStatus)}`);
  });

  test('the design\'s load test: 1,000 concurrent purchases, success rate and p95', async () => {
    a = await start('a2');
    const before = (await pg.query('SELECT count(*)::int AS n FROM saga_states')).rows[0].n;
    const report = await runHttpLoad({ urls: [a.url, b.url], count: 1000, concurrency: 1000, timeoutMs: 60_000,
      body: (i) => generatedPurchase(i, i % 2 === 0 ? 'orchestration' : 'choreography') });
    console.log(`design load test: 1000 concurrent purchases over 2 instances in ${report.wallSeconds} s: `
      + `${report.purchasesPerSecond} purchases/s, success ${(report.successRate * 100).toFixed(1)}%, `
      + `p50 ${report.latencyMs.p50} ms, p95 ${report.latencyMs.p95} ms, p99 ${report.latencyMs.p99} ms (design: over 95% within 30 s; 1,000 TPS)`);
    expect(report.byStatus).toEqual({ 201: 1000 });
    // The design's other figure: 100 reads of one saga one after another, p95 under 200 ms.
    const one = (report.replies[0] as HttpReply).body;
    const reads: number[] = [];
    for (let i = 0; i < 100; i++) {
      const r = await get(i % 2 ? a : b, `/sagas/${one.transactionId}`);
      expect({ http: r.status, saga: r.body }).toEqual({ http: 200, saga: one });
      reads.push(r.ms);
    }
    reads.sort((x, y) => x - y);
    console.log(`design read test: 100 sequential GET /sagas/:id, p50 ${reads[49].toFixed(1)} ms, p95 ${reads[94].toFixed(1)} ms (design: p95 < 200 ms)`);
    const ids = new Set(report.replies.map((r) => (r as HttpReply).body.transactionId));
    expect(ids.size).toBe(1000);
    expect((await pg.query('SELECT count(*)::int AS n FROM saga_states')).rows[0].n).toBe(before + 1000);
    expect(await moneyDifferences(pg, opening)).toEqual([]);
    await expectDbCheckPasses();
  }, 120_000);
});
