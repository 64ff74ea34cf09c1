import { Client } from 'pg';
import { createTestDb, TestDb } from '../support/database';
import { runMain } from '../support/cli';

/** Ctrl-C during saga prune: exit 130, the batch in flight rolled back whole, and the same command run again finishes. */
let t: TestDb;
const cli = (...argv: string[]) => runMain(argv, { DATABASE_URL: t.url });

beforeAll(async () => {
  t = await createTestDb();
  expect((await cli('seed', 'fixtures')).code).toBe(0);
  expect((await cli('seed', 'generate', '--users', '10', '--items', '4', '--sagas', '120')).code).toBe(0);
  expect((await cli('saga', 'recover', '--yes')).code).toBe(0);
});
afterAll(async () => { await t?.drop(); });

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** db check's failing rules, but the stuck rule (the generated compensation_failed sagas wait for an operator). */
async function failingChecks(): Promise<string[]> {
  const check = await cli('db', 'check', '--json');
  return JSON.parse(check.stdout).checks.filter((c: { ok: boolean; name: string }) => !c.ok && c.name !== 'no_stuck_sagas')
    .map((c: { name: string }) => c.name);
}
const finished = async () => (await t.db.query(`SELECT count(*)::int AS n FROM saga_states WHERE status IN ('completed', 'compensated', 'failed')`))[0].n;

test('interrupted while a batch waits on a lock: exit 130, nothing half done; run again, it finishes', async () => {
  const before = await finished();
  expect(before).toBeGreaterThan(0);
  // Another session holds saga_events: the first batch's delete waits there, mid-transaction.
  const holder = new Client({ connectionString: t.url });
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query('LOCK TABLE saga_events IN ACCESS EXCLUSIVE MODE');
  const listeners = process.listeners('SIGINT');
  const controller = new AbortController();
  try {
    const running = runMain(['--lock-timeout', '30s', 'saga', 'prune', '--before', '1d', '--batch', '10', '--yes'], { DATABASE_URL: t.url }, false,
      controller.signal);
    await waitFor('the prune to wait on the lock', async () => (await t.db.query(
      `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'sagactl:saga-prune:%' AND wait_event_type = 'Lock'`, [t.name])).length > 0);
    controller.abort('SIGINT');
    for (const l of process.listeners('SIGINT').filter((x) => !listeners.includes(x))) (l as () => void)();
    const r = await running;
    expect(r.code).toBe(130);
    expect(await finished()).toBe(before);
  } finally {
    await holder.query('ROLLBACK');
    await holder.end();
  }
  expect(await failingChecks()).toEqual([]);
  const again = await cli('saga', 'prune', '--before', '1d', '--batch', '10', '--yes', '--json');
  expect(again.code).toBe(0);
  expect(JSON.parse(again.stdout).deleted).toBe(before - (await finished()));
  expect(await finished()).toBeLessThan(before);
  expect(await failingChecks()).toEqual([]);
  const outcomes = (await t.db.query(`SELECT outcome FROM operator_audit WHERE action = 'prune' ORDER BY id`)).map((r) => r.outcome);
  // The interrupted run is audited too, though Ctrl-C had ended its pool.
  expect(outcomes).toEqual(['interrupted', 'done']);
}, 60_000);
