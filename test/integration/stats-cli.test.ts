import { createTestDb, TestDb } from '../support/database';
import { runMain } from '../support/cli';
import { sagaLine } from '../../src/seed/generate';

let t: TestDb;
let env: Record<string, string>;
const END = new Date(Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000).toISOString();
beforeAll(async () => {
  t = await createTestDb();
  env = { DATABASE_URL: t.url, NO_COLOR: '1' };
  // 3,000 generated sagas over two days, ending an hour ago: all of them old enough for the rollup.
  const r = await cli('seed', 'generate', '--sagas', '3000', '--days', '2', '--end', END, '--seed', '5', '--json');
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ seed: 5, users: 0, items: 0, sagas: 3000, rows: 3000, inserted: 3000, skipped: 0 });
});
afterAll(async () => { await t.drop(); });

const cli = (...argv: string[]) => runMain(argv, env);
const state = async () => (await t.db.query('SELECT rolled_until, source_filenode FROM saga_stats_state'))[0];

async function direct(): Promise<Record<string, number>> {
  const [row] = await t.db.query(`SELECT count(*)::int AS total,
    count(*) FILTER (WHERE status = 'completed')::int AS completed, count(*) FILTER (WHERE status = 'failed')::int AS failed,
    count(*) FILTER (WHERE status = 'compensated')::int AS compensated,
    count(*) FILTER (WHERE status = 'compensation_failed')::int AS "compensationFailed",
    count(*) FILTER (WHERE status = 'pending')::int AS pending, count(*) FILTER (WHERE status = 'in_progress')::int AS "inProgress",
    count(*) FILTER (WHERE status = 'compensating')::int AS compensating,
    -- Stuck as product.md defines it: compensation_failed, or in flight, unleased or expired, and unmoved for a minute.
    count(*) FILTER (WHERE status = 'compensation_failed' OR (status IN ('pending', 'in_progress', 'compensating')
      AND (lease_expires_at IS NULL OR lease_expires_at < now())
      AND GREATEST(updated_at, (SELECT max(r.executed_at) FROM saga_step_results r WHERE r.transaction_id = saga_states.transaction_id))
          < timezone('UTC', now()) - interval '1 minute'))::int AS stuck
    FROM saga_states`);
  return row;
}

test('generated sagas: the rows are the generator text, and stats --json counts them exactly', async () => {
  const [row] = await t.db.query(`SELECT transaction_id, status, user_id, item_id, quantity, price::text AS price, mode
    FROM saga_states WHERE transaction_id = 'gen-saga-0000002999'`);
  const text = sagaLine({ users: 0, items: 0, seed: 5, sagas: 3000, days: 2, endMs: Date.parse(END) }, 2999).split('\t').slice(0, 7);
  expect(Object.values(row).map(String)).toEqual(text);
  const r = await cli('stats', '--json');
  expect(r.code).toBe(0);
  const s = JSON.parse(r.stdout);
  expect(Object.keys(s)).toEqual(['window', 'total', 'pending', 'inProgress', 'completed', 'failed', 'compensating', 'compensated',
    'compensationFailed', 'successRate', 'compensationRate', 'stuck', 'byMode', 'latencyMs', 'throughput', 'topErrors',
    'failuresByStep', 'rollup']);
  expect(s).toMatchObject(await direct());
  expect(s.latencyMs).toMatchObject({ count: s.completed, approximate: true, relativeError: 0.0443 });
  expect(s.latencyMs.p50).toBeGreaterThan(1.5);
  expect(s.latencyMs.p50).toBeLessThan(8.5);
  expect(s.throughput).toMatchObject({ bucketMinutes: 60, averagePerMinute: expect.any(Number) });
  expect(s.throughput.perMinute.length).toBeGreaterThan(40);
  expect(s.topErrors[0]).toEqual({ code: expect.stringMatching(/^INSUFFICIENT_(BALANCE|STOCK)$/), count: expect.any(Number) });
  const steps = Object.fromEntries(s.failuresByStep.map((f: { step: string; count: number }) => [f.step, f.count]));
  expect(steps.validate_user).toBe(s.failed);
  expect(steps.reserve_inventory).toBe(s.compensated + s.compensating);
  expect(s.rollup.rolledUntil).not.toBeNull();
});

test('generating sagas again starts the rollup over, so back-dated rows are counted', async () => {
  expect((await state()).rolled_until).not.toBeNull();
  const r = await cli('seed', 'generate', '--sagas', '3100', '--days', '2', '--end', END, '--seed', '5');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^seeded 0 users, 0 items, 3100 sagas \(seed 5\): 100 new, 3000 existed, in .*\n$/);
  expect((await state()).rolled_until).toBeNull();
  expect(JSON.parse((await cli('stats', '--json')).stdout)).toMatchObject(await direct());
});

test('the table for people, and a window', async () => {
  const r = await cli('stats', '--since', '30h', '--until', '2h');
  expect(r.code).toBe(0);
  expect(r.stderr.split('\n')[0]).toBe(`database: ${t.url} (DATABASE_URL)`);
  expect(r.stdout).toMatch(/^sagas created from \d{4}-.*Z to \d{4}-.*Z\n/);
  expect(r.stdout).toMatch(/^completed +[\d,]+ +\d+\.\d\d%$/m);
  expect(r.stdout).toMatch(/^success \d+\.\d\d% {3}compensation \d+\.\d\d% {3}stuck \d+$/m);
  expect(r.stdout).toMatch(/^latency ms, [\d,]+ completed: p50 /m);
  expect(r.stdout).toMatch(/^sagas per minute, one column per 30 min from /m);
  expect(r.stdout).toMatch(/^top error codes:\n/m);
  expect(r.stdout).toMatch(/^failed at step:\n\s+validate_user │█+ \d+/m);
  const [{ n }] = await t.db.query(`SELECT count(*)::int AS n FROM saga_states
    WHERE created_at >= LOCALTIMESTAMP - interval '30 hours' AND created_at < LOCALTIMESTAMP - interval '2 hours'`);
  const json = JSON.parse((await cli('stats', '--since', '30h', '--until', '2h', '--format', 'json')).stdout);
  expect(Math.abs(json.total - n)).toBeLessThanOrEqual(3); // the two commands ran a moment apart
  expect(json.window.since).toMatch(/Z$/);
});

test('--format prometheus: every line is # HELP, # TYPE or name{labels} value', async () => {
  const r = await cli('stats', '--format', 'prometheus');
  expect(r.code).toBe(0);
  const lines = r.stdout.trimEnd().split('\n');
  for (const line of lines) {
    expect(line).toMatch(/^(# (HELP|TYPE) sagactl_\w+ .+|sagactl_\w+(\{(\w+="[^"]*",?)+\})? (NaN|-?\d+(\.\d+)?(e-?\d+)?))$/);
  }
  const total = lines.filter((l) => l.startsWith('sagactl_sagas{')).reduce((n, l) => n + Number(l.split(' ')[1]), 0);
  expect(total).toBe((await direct()).total);
  expect(lines).toContain('# TYPE sagactl_saga_latency_seconds summary');
  expect(lines.some((l) => l.startsWith('sagactl_saga_latency_seconds{quantile="0.99"} '))).toBe(true);
});

test('--watch N --iterations K redraws K times, one JSON document per line', async () => {
  const r = await cli('stats', '--json', '--since', '1d', '--watch', '1', '--iterations', '2');
  expect(r.code).toBe(0);
  const docs = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
  expect(docs).toHaveLength(2);
  expect(docs[1].total).toBe(docs[0].total);
  const table = await cli('stats', '--watch', '1', '--iterations', '1');
  expect(table.stdout).toMatch(/^\S+Z {2}every 1s, Ctrl-C to stop\n/);
  const durations = await cli('stats', '--json', '--watch', '1500ms', '--iterations', '2');
  expect(durations.stdout.trimEnd().split('\n')).toHaveLength(2);
  const prom = await cli('stats', '--format', 'prometheus', '--watch', '1', '--iterations', '1');
  expect(prom.stdout).toMatch(/^# HELP sagactl_sagas /);
});

test('Ctrl-C ends a watch with exit 0', async () => {
  const ctrlC = new AbortController();
  const running = runMain(['stats', '--json', '--watch', '1h'], env, false, ctrlC.signal);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  ctrlC.abort('SIGINT');
  const r = await running;
  expect(r.code).toBe(0);
  expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
  expect(process.listenerCount('SIGINT')).toBe(0);
});

test.each([
  [['--since', 'yesterday'], '--since must be an ISO-8601 time'],
  [['--until', '2026-02-30'], '--until must be an ISO-8601 time'],
  [['--since', '1h', '--until', '2h'], '--since (', 'must be before --until'],
  [['--since', '2026-11-02', '--until', '2026-11-02'], 'must be before --until'],
  [['--format', 'xml'], '--format must be one of table, json, prometheus, got "xml"'],
  [['--json', '--format', 'prometheus'], '--json and --format prometheus exclude each other'],
  [['--format', 'text', '--json'], '--json and --format table exclude each other'],
  [['--watch', '0'], '--watch must be from 1s to 24h, got "0"'],
  [['--watch', '0.5s'], '--watch must be from 1s to 24h, got "0.5s"'],
  [['--watch', 'abc'], '--watch must be a duration like 30s, 15m, 2h or 1d, got "abc"'],
  [['--watch', '2d'], '--watch must be from 1s to 24h, got "2d"'],
  [['--iterations', '2'], '--iterations counts the rounds of --watch'],
  [['--watch', '1', '--iterations', '0'], '--iterations must be a whole number'],
])('stats %j: exit 2 with a clear message, nothing written', async (argv, ...messages) => {
  const before = await state();
  const r = await cli('stats', ...argv);
  expect(r.code).toBe(2);
  for (const m of messages) expect(r.stderr).toContain(m);
  expect(r.stdout).toBe('');
  expect(r.stderr).not.toContain('database:'); // refused before connecting
  expect(await state()).toEqual(before);
});

test('before migrate up: exit 3 and the fix, not an internal error', async () => {
  const empty = await createTestDb({ empty: true });
  try {
    const r = await runMain(['stats'], { DATABASE_URL: empty.url });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('error: The schema is not migrated');
    expect(r.stderr).toContain('Run `sagactl migrate up` first.');
  } finally {
    await empty.drop();
  }
});

test('--help has examples and says how exact the figures are', async () => {
  const r = await cli('stats', '--help');
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('$ sagactl stats --since 24h --json');
  expect(r.stdout).toContain('within 4.5%');
});
