import { Client } from 'pg';
import { createTestDb, TestDb } from '../support/database';
import { createDb, createPool } from '../../src/db/pool';
import { getStats } from '../../src/stats/read';
import { markStatsDirty } from '../../src/stats/rollup';
import { binOf, RELATIVE_ERROR } from '../../src/stats/histogram';
import { binSql } from '../../src/stats/sql';

let t: TestDb;
beforeAll(async () => { t = await createTestDb(); });
afterAll(async () => { await t.drop(); });
beforeEach(async () => { await t.db.query('TRUNCATE saga_step_results, saga_events, saga_states'); });

interface Spec { id: string; status: string; ago: number; mode?: string; ms?: number; code?: string; lease?: 'expired' | 'live' }

/** Sagas placed relative to the server's clock: `ago` seconds before now, completed `ms` later. */
async function insert(specs: Spec[]): Promise<void> {
  const col = <K extends keyof Spec>(k: K, d: Spec[K] | null = null) => specs.map((s) => s[k] ?? d);
  await t.db.query(
    `INSERT INTO saga_states (transaction_id, status, user_id, item_id, quantity, price, mode, created_at, updated_at,
                              completed_at, error_code, lease_owner, lease_expires_at)
     SELECT id, status, 'u', 'i', 1, '1.00', mode, c, c, CASE WHEN ms IS NOT NULL THEN c + ms * interval '1 millisecond' END, code,
            CASE WHEN lease IS NOT NULL THEN 'someone' END,
            CASE lease WHEN 'live' THEN now() + interval '1 hour' WHEN 'expired' THEN now() - interval '1 minute' END
       FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::float8[], $6::text[], $7::text[])
            AS x(id, status, mode, ago, ms, code, lease)
      CROSS JOIN LATERAL (SELECT LOCALTIMESTAMP - ago * interval '1 second' AS c) t`,
    [col('id'), col('status'), col('mode', 'orchestration'), col('ago'), col('ms'), col('code'), col('lease')]);
}

const failedStep = (id: string, step: string, code: string) => t.db.query(
  `INSERT INTO saga_step_results (transaction_id, step, kind, status, error_code) VALUES ($1, $2, 'forward', 'failed', $3)`, [id, step, code]);

const HOUR = 3600;
const handMade = (prefix: string, ago: number): Spec[] => [
  { id: `${prefix}-c1`, status: 'completed', ago, ms: 2 }, { id: `${prefix}-c2`, status: 'completed', ago, ms: 4 },
  { id: `${prefix}-c3`, status: 'completed', ago: ago + 61, ms: 8 }, { id: `${prefix}-c4`, status: 'completed', ago, ms: 16 },
  { id: `${prefix}-c5`, status: 'completed', ago, ms: 1000, mode: 'choreography' },
  { id: `${prefix}-f1`, status: 'failed', ago, code: 'INSUFFICIENT_BALANCE' },
  { id: `${prefix}-f2`, status: 'failed', ago: ago + 5, code: 'USER_NOT_FOUND', mode: 'choreography' },
  { id: `${prefix}-x1`, status: 'compensated', ago, code: 'INSUFFICIENT_STOCK' },
  { id: `${prefix}-x2`, status: 'compensated', ago, code: 'ITEM_NOT_FOUND' },
  { id: `${prefix}-cf`, status: 'compensation_failed', ago, code: 'COMPENSATION_FAILED' },
  { id: `${prefix}-p1`, status: 'in_progress', ago, lease: 'expired' }, { id: `${prefix}-p2`, status: 'pending', ago, lease: 'live' },
  { id: `${prefix}-p3`, status: 'compensating', ago, code: 'INSUFFICIENT_STOCK' },
];

test('counts match a hand-made set exactly, from the rollup (days and hours old) and the live tail (seconds old)', async () => {
  await insert([...handMade('old', 2 * 24 * HOUR + 1234), ...handMade('hour', 3 * HOUR), ...handMade('now', 20)]);
  for (const p of ['old', 'hour', 'now']) {
    await failedStep(`${p}-x2`, 'reserve_inventory', 'ITEM_NOT_FOUND');
    await failedStep(`${p}-cf`, 'log_transaction', 'LOG_FAILED');
  }
  const first = await getStats(t.db);
  expect(first.rollup.minutesRolled).toBeGreaterThan(0);
  expect(first.rollup.rolledUntil).not.toBeNull();
  const again = await getStats(t.db);
  expect(again.rollup.minutesRolled).toBeLessThanOrEqual(1);
  for (const s of [first, again]) {
    expect(s).toMatchObject({
      total: 39, completed: 15, failed: 6, compensated: 6, compensationFailed: 3, inProgress: 3, pending: 3, compensating: 3,
      successRate: Math.round((15 / 39) * 10_000) / 10_000, compensationRate: Math.round((12 / 39) * 10_000) / 10_000,
      // Stuck: the in-flight ones unmoved for a minute without a live lease (old and hour: p1, p3), and every compensation_failed.
      stuck: 7, byMode: { orchestration: 33, choreography: 6 },
      topErrors: [{ code: 'INSUFFICIENT_STOCK', count: 6 }, { code: 'COMPENSATION_FAILED', count: 3 },
        { code: 'INSUFFICIENT_BALANCE', count: 3 }, { code: 'ITEM_NOT_FOUND', count: 3 }, { code: 'USER_NOT_FOUND', count: 3 }],
      failuresByStep: [{ step: 'validate_user', count: 6 }, { step: 'reserve_inventory', count: 9 },
        { step: 'log_transaction', count: 3 }, { step: 'send_notification', count: 0 }],
    });
    expect(s.latencyMs).toMatchObject({ count: 15, max: 1000, mean: 206, approximate: true });
    // Exact nearest-rank values: p50 of (2,2,2,4,4,4,8,8,8,16,16,16,1000,1000,1000) is 8, p95 and p99 are 1000.
    expect(Math.abs(s.latencyMs.p50! - 8) / 8).toBeLessThanOrEqual(RELATIVE_ERROR);
    expect(Math.abs(s.latencyMs.p99! - 1000) / 1000).toBeLessThanOrEqual(RELATIVE_ERROR);
  }
  const rolled = await t.db.query(`SELECT grain, sum(sagas)::int AS n FROM saga_stats_rollup GROUP BY grain ORDER BY grain`);
  expect(rolled).toEqual([{ grain: 'hour', n: 26 }, { grain: 'minute', n: 26 }]);
});

test('every window agrees with a direct count, edges on and off minutes and hours', async () => {
  const specs: Spec[] = [];
  const statuses = ['completed', 'completed', 'completed', 'failed', 'compensated', 'in_progress', 'compensation_failed'];
  for (let i = 0; i < 1500; i++) {
    const status = statuses[i % statuses.length];
    specs.push({ id: `w${i}`, status, ago: 7 + i * 173.3, mode: i % 3 ? 'orchestration' : 'choreography', ms: status === 'completed' ? 1 + (i % 40) : undefined,
      code: status === 'failed' ? 'INSUFFICIENT_BALANCE' : status === 'compensated' ? 'ITEM_NOT_AVAILABLE' : undefined, lease: i % 2 ? 'expired' : 'live' });
  }
  await insert(specs);
  await getStats(t.db);
  const [{ now }] = await t.db.query('SELECT LOCALTIMESTAMP AS now');
  const ago = (s: number) => new Date(now.getTime() - s * 1000);
  const windows: [Date | undefined, Date | undefined][] = [
    [undefined, undefined], [ago(3 * HOUR + 17), undefined], [undefined, ago(2 * HOUR + 1)], [ago(30 * HOUR + 59), ago(4 * HOUR + 31)],
    [ago(50 * HOUR), ago(49 * HOUR)], [ago(150), undefined], [ago(7.5 * HOUR), ago(7.5 * HOUR - 40)], [ago(400 * HOUR), ago(399 * HOUR)],
  ];
  for (const [since, until] of windows) {
    const s = await getStats(t.db, { since, until });
    const [direct] = await t.db.query(
      `SELECT count(*)::int AS total, count(*) FILTER (WHERE status = 'completed')::int AS completed,
              count(*) FILTER (WHERE status = 'failed')::int AS failed, count(*) FILTER (WHERE status = 'compensated')::int AS compensated,
              count(*) FILTER (WHERE status = 'in_progress')::int AS "inProgress",
              count(*) FILTER (WHERE status = 'compensation_failed')::int AS "compensationFailed",
              count(*) FILTER (WHERE status = 'compensation_failed' OR (status IN ('pending', 'in_progress', 'compensating')
      AND (lease_expires_at IS NULL OR lease_expires_at < now())
      AND GREATEST(updated_at, (SELECT max(r.executed_at) FROM saga_step_results r WHERE r.transaction_id = saga_states.transaction_id))
          < timezone('UTC', now()) - interval '1 minute'))::int AS stuck,
              count(*) FILTER (WHERE mode = 'choreography')::int AS choreography,
              max(date_part('epoch', completed_at - created_at) * 1000) AS max
         FROM saga_states WHERE created_at >= COALESCE($1::timestamp, '-infinity') AND created_at < COALESCE($2::timestamp, 'infinity')`,
      [since?.toISOString() ?? null, until?.toISOString() ?? null]);
    const { max, choreography, ...counts } = direct;
    expect(s).toMatchObject(counts);
    expect(s.byMode.choreography).toBe(choreography);
    expect(s.latencyMs.max).toBe(max === null ? null : Math.round(max * 1000) / 1000);
    expect(s.throughput === null).toBe(counts.total === 0);
  }
});

test('a status change after its minute was rolled up is counted anew once markStatsDirty is called', async () => {
  await insert([...handMade('old', 2 * HOUR), { id: 'late', status: 'completed', ago: 2 * HOUR, ms: 5 }]);
  expect((await getStats(t.db)).completed).toBe(6);
  // An operator compensates a completed saga: final to final, which the rollup cannot notice alone.
  await t.db.query(`UPDATE saga_states SET status = 'compensated', error_code = 'OPERATOR_COMPENSATION' WHERE transaction_id = 'late'`);
  expect((await getStats(t.db)).completed).toBe(6);
  expect(await markStatsDirty(t.db, ['late', 'old-c1', 'no-such-saga'])).toBe(1);
  expect(await markStatsDirty(t.db, [])).toBe(0);
  const s = await getStats(t.db);
  expect(s.rollup.minutesReRolled).toBe(1);
  expect(s).toMatchObject({ completed: 5, compensated: 3, total: 14 });
  expect(s.topErrors).toContainEqual({ code: 'OPERATOR_COMPENSATION', count: 1 });
  expect((await getStats(t.db)).rollup.minutesReRolled).toBe(0);
});

test('an unsettled saga that moves on later is caught without a mark; a TRUNCATE starts the rollup over', async () => {
  await insert(handMade('old', 2 * HOUR));
  expect(await getStats(t.db)).toMatchObject({ inProgress: 1, compensating: 1, completed: 5 });
  await t.db.query(`UPDATE saga_states SET status = 'completed', completed_at = created_at + interval '3 ms' WHERE transaction_id = 'old-p1'`);
  await t.db.query(`UPDATE saga_states SET status = 'compensated' WHERE transaction_id = 'old-p3'`);
  const moved = await getStats(t.db);
  // Only the compensation_failed one is left waiting for an operator.
  expect(moved).toMatchObject({ inProgress: 0, compensating: 0, completed: 6, compensated: 3, stuck: 1 });
  expect(moved.rollup.minutesReRolled).toBe(1);
  await t.db.query('TRUNCATE saga_step_results, saga_events, saga_states');
  await insert([{ id: 'only', status: 'failed', ago: 3 * HOUR, code: 'USER_NOT_ACTIVE' }]);
  expect(await getStats(t.db)).toMatchObject({ total: 1, failed: 1, completed: 0 });
});

test('two stats at once: the refresh is serialised, both answers exact', async () => {
  await insert(handMade('a', 5 * HOUR));
  const [x, y] = await Promise.all([getStats(t.db), getStats(t.db)]);
  expect([x.total, y.total]).toEqual([13, 13]);
  expect((await t.db.query(`SELECT sum(sagas)::int AS n FROM saga_stats_rollup WHERE grain = 'minute'`))[0].n).toBe(13);
});

test('on a read-only server the rollup is left alone and the answer is still exact', async () => {
  await insert(handMade('ro', 3 * HOUR));
  const pool = createPool(t.url, 2, 'stats-read-only', 5000);
  pool.on('connect', (c) => void c.query('SET default_transaction_read_only = on'));
  try {
    const s = await getStats(createDb(pool, t.url));
    expect(s).toMatchObject({ total: 13, completed: 5, rollup: { note: expect.stringContaining('read-only') } });
  } finally {
    await pool.end();
  }
});

test('the SQL bin of a latency is the bin of binOf', async () => {
  const values = [0, 0.05, 0.1, 0.15, 1, 2.5, 10, 99.9, 1234.5, 86_400_000, 1e12];
  const client = new Client({ connectionString: t.url });
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT ${binSql('v')} AS bin FROM unnest($1::float8[]) WITH ORDINALITY AS x(v, i) ORDER BY i`, [values]);
    expect(rows.map((r) => r.bin)).toEqual(values.map(binOf));
  } finally {
    await client.end();
  }
});
