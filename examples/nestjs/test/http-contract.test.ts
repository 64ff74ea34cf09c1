import 'reflect-metadata';
import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Pool } from 'pg';
import request from 'supertest';
import { AppModule } from '../src/app.module';
import { loadConfig } from '../src/config';
import { createDatabase, TestDatabase } from './support/server';

/**
 * The HTTP contract, in-process (@nestjs/testing, supertest) on a database of its own that
 * sagactl migrated and seeded: what each request answers, and that a refused request writes
 * nothing at all.
 */
let db: TestDatabase;
let pg: Pool;
let app: INestApplication;

beforeAll(async () => {
  db = await createDatabase('http');
  pg = new Pool({ connectionString: db.url, max: 2 });
  const config = loadConfig({ DATABASE_URL: db.url, RECOVERY_EVERY_MS: '60000', INSTANCE_NAME: 'contract-test' });
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] }).compile();
  app = moduleRef.createNestApplication({ logger: ['error'] });
  await app.init();
}, 60_000);

afterAll(async () => {
  await app?.close();
  await pg?.end();
  await db?.drop();
});

const http = () => request(app.getHttpServer());

/** Everything a purchase can write: sagas, steps, ledger rows, outbox events, balances, stock. */
async function footprint(): Promise<string> {
  const { rows } = await pg.query(`SELECT (SELECT count(*) FROM saga_states) AS sagas, (SELECT count(*) FROM saga_step_results) AS steps,
    (SELECT count(*) FROM ledger) AS ledger, (SELECT count(*) FROM saga_events) AS events,
    (SELECT sum(balance)::text FROM users) AS balances, (SELECT sum(stock) FROM items) AS stock`);
  return JSON.stringify(rows[0]);
}

describe('POST /purchases', () => {
  test('a completed purchase is 201 with the saga as `saga run --json` prints it; a refused one 422 with its error code', async () => {
    const ok = await http().post('/purchases').send({ userId: 'user-123', itemId: 'item-potion', quantity: 2, mode: 'choreography' });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ status: 'completed', mode: 'choreography', userId: 'user-123', itemId: 'item-potion',
      quantity: 2, price: '20.00', total: '40.00', errorCode: null });
    expect(ok.body.steps).toHaveLength(4);
    const suspended = await http().post('/purchases').send({ userId: 'user-suspended', itemId: 'item-potion', quantity: 1 });
    expect(suspended.status).toBe(422);
    expect(suspended.body).toMatchObject({ status: 'failed', mode: 'orchestration', errorCode: 'USER_NOT_ACTIVE' });
    const noStock = await http().post('/purchases').send({ userId: 'user-123', itemId: 'item-out-of-stock', quantity: 1 });
    expect(noStock.body).toMatchObject({ status: 'compensated', errorCode: 'INSUFFICIENT_STOCK' });
  });

  const refused: [string, number, string, () => request.Test][] = [
    ['an unknown user', 404, 'USER_NOT_FOUND', () => http().post('/purchases').send({ userId: 'user-nobody', itemId: 'item-sword', quantity: 1 })],
    ['an unknown item', 404, 'ITEM_NOT_FOUND', () => http().post('/purchases').send({ userId: 'user-123', itemId: 'item-nothing', quantity: 1 })],
    ['quantity 0', 400, 'INVALID_REQUEST', () => http().post('/purchases').send({ userId: 'user-123', itemId: 'item-sword', quantity: 0 })],
    ['an absurd quantity', 400, 'INVALID_REQUEST', () => http().post('/purchases').send({ userId: 'user-123', itemId: 'item-sword', quantity: 1e12 })],
    ['a fractional quantity', 400, 'INVALID_REQUEST', () => http().post('/purchases').send({ userId: 'user-123', itemId: 'item-sword', quantity: 1.5 })],
    ['a quantity as text', 400, 'INVALID_REQUEST', () => http().post('/purchases').send({ userId: 'user-123', itemId: 'item-sword', quantity: '1' })],
    ['a hostile id', 400, 'INVALID_REQUEST', () => http().post('/purchases').send({ userId: 'user-123', itemId: 'item-sword', id: "x'; DROP TABLE users; --" })],
    ['a hostile user', 400, 'INVALID_REQUEST', () => http().post('/purchases').send({ userId: "user-123' OR '1'='1", itemId: 'item-sword' })],
    ['an id too long', 400, 'INVALID_REQUEST', () => http().post('/purchases').send({ userId: 'user-123', itemId: 'item-sword', id: 'x'.repeat(91) })],
    ['an unknown mode', 400, 'INVALID_REQUEST', () => http().post('/purchases').send({ userId: 'user-123', itemId: 'item-sword', mode: 'saga' })],
    ['a price from the client', 400, 'INVALID_REQUEST', () => http().post('/purchases').send({ userId: 'user-123', itemId: 'item-sword', price: 0.01 })],
    ['an unknown field', 400, 'INVALID_REQUEST', () => http().post('/purchases').send({ userId: 'user-123', itemId: 'item-sword', coupon: 'FREE' })],
    ['a malformed body', 400, 'MALFORMED_BODY', () => http().post('/purchases').set('content-type', 'application/json').send('{"userId": "user-123",')],
    ['an array body', 400, 'INVALID_REQUEST', () => http().post('/purchases').send([{ userId: 'user-123', itemId: 'item-sword' }])],
    ['no body', 400, 'INVALID_REQUEST', () => http().post('/purchases')],
  ];
  test.each(refused)('%s: HTTP %i with code %s, nothing written', async (_what, status, code, send) => {
    const before = await footprint();
    const res = await send();
    expect({ status: res.status, code: res.body.code }).toEqual({ status, code });
    expect(typeof res.body.message).toBe('string');
    expect(await footprint()).toBe(before);
  });

  test('an id is an idempotency key: the same request returns the same saga, executed once; another request or mode is 409', async () => {
    const body = { userId: 'user-123', itemId: 'item-potion', quantity: 1, mode: 'orchestration', id: 'order-http-1' };
    const first = await http().post('/purchases').send(body);
    expect(first.status).toBe(201);
    const before = await footprint();
    const again = await http().post('/purchases').send(body);
    expect(again.body).toEqual(first.body);
    const other = await http().post('/purchases').send({ ...body, quantity: 3 });
    expect({ status: other.status, code: other.body.code }).toEqual({ status: 409, code: 'IDEMPOTENCY_CONFLICT' });
    const switched = await http().post('/purchases').send({ ...body, mode: 'choreography' });
    expect({ status: switched.status, code: switched.body.code }).toEqual({ status: 409, code: 'MODE_CONFLICT' });
    // Without a mode, the pattern control sends a retry to the mode the saga was started in.
    const noMode = await http().post('/purchases').send({ userId: 'user-123', itemId: 'item-potion', quantity: 1, id: 'order-http-1' });
    expect(noMode.body.transactionId).toBe('order-http-1');
    expect(await footprint()).toBe(before);
  });
});

describe('reads', () => {
  test('GET /sagas/:id is the saga; an unknown one 404, a hostile one 400', async () => {
    const made = await http().post('/purchases').send({ userId: 'user-123', itemId: 'item-potion', quantity: 1 });
    const got = await http().get(`/sagas/${made.body.transactionId}`);
    expect({ status: got.status, body: got.body }).toEqual({ status: 200, body: made.body });
    expect((await http().get('/sagas/no-such-saga')).body.code).toBe('SAGA_NOT_FOUND');
    const hostile = await http().get(`/sagas/${encodeURIComponent("1' OR '1'='1")}`);
    expect({ status: hostile.status, code: hostile.body.code }).toEqual({ status: 400, code: 'INVALID_REQUEST' });
  });

  test('GET /sagas pages with a cursor and filters by status and user', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: request.Response = await http().get('/sagas').query({ user: 'user-123', limit: 2, ...(cursor ? { cursor } : {}) });
      expect(page.status).toBe(200);
      seen.push(...page.body.sagas.map((s: { transactionId: string; userId: string }) => `${s.userId}/${s.transactionId}`));
      cursor = page.body.nextCursor;
    } while (cursor);
    const { rows } = await pg.query(`SELECT user_id || '/' || transaction_id AS k FROM saga_states WHERE user_id = 'user-123'
      ORDER BY created_at DESC, transaction_id DESC`);
    expect(seen).toEqual(rows.map((r) => r.k));
    const failed = await http().get('/sagas').query({ status: 'failed' });
    expect(failed.body.sagas.map((s: { userId: string }) => s.userId)).toEqual(['user-suspended']);
    for (const query of [{ status: 'nope' }, { limit: 0 }, { limit: 5000 }, { cursor: 'garbage' }, { user: "x' OR 1=1" }]) {
      const res = await http().get('/sagas').query(query);
      expect({ query, status: res.status, code: res.body.code }).toEqual({ query, status: 400, code: 'INVALID_REQUEST' });
    }
  });

  test('GET /stats is what `sagactl stats --json` prints; GET /health answers with the instance', async () => {
    const stats = await http().get('/stats');
    const { rows } = await pg.query('SELECT count(*)::int AS n FROM saga_states');
    expect(stats.status).toBe(200);
    expect(stats.body.total).toBe(rows[0].n);
    expect(stats.body.stuck).toBe(0);
    const health = await http().get('/health');
    expect(health.body).toMatchObject({ status: 'ok', instance: 'contract-test', database: 'up', pid: process.pid });
    expect((await http().get('/no-such-route')).body.code).toBe('ROUTE_NOT_FOUND');
  });
});
