import { spawn } from 'node:child_process';
import { Client } from 'pg';
import { createTestDb, TestDb } from '../support/database';
import { BIN, ROOT, runBin, runMain } from '../support/cli';
import { balanceOf } from '../support/saga';

/**
 * Ctrl-C (SIGINT) and SIGTERM on the real process: its statements are cancelled on the server
 * (nothing of it runs or waits there once it has exited), the sagas it held are released and
 * named, and `saga recover` finishes them at once.
 */
let t: TestDb;
beforeAll(async () => {
  t = await createTestDb();
  expect((await runMain(['seed', 'fixtures'], { DATABASE_URL: t.url })).code).toBe(0);
});
afterAll(async () => t.drop());

async function holdItem(id: string): Promise<Client> {
  const c = new Client({ connectionString: t.url, application_name: 'stock-audit' });
  await c.connect();
  await c.query('BEGIN');
  await c.query('SELECT 1 FROM items WHERE item_id = $1 FOR UPDATE', [id]);
  return c;
}

/** Our sessions in this test's database: application_name sagactl:<command>:<host>:<pid>. */
const ours = (state = '%') => t.db.query<{ pid: number; state: string; wait: string | null }>(
  `SELECT pid, state, wait_event_type AS wait FROM pg_stat_activity
    WHERE datname = $1 AND application_name LIKE 'sagactl:saga-%' AND state LIKE $2`, [t.name, state]);

async function interrupt(argv: string[], signal: 'SIGINT' | 'SIGTERM', waiting: number) {
  const child = spawn(process.execPath, [BIN, ...argv], { cwd: ROOT, env: { ...process.env, DATABASE_URL: t.url, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.on('data', (d) => (stdout += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const deadline = Date.now() + 15_000;
  while ((await ours('active')).filter((s) => s.wait === 'Lock').length < waiting && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect((await ours('active')).filter((s) => s.wait === 'Lock').length).toBeGreaterThanOrEqual(waiting);
  child.kill(signal);
  const code = await exited;
  // At once, before the test lets go of its lock: nothing of the process runs or waits on the server.
  const left = await ours();
  return { code, stderr, stdout, left };
}

test('SIGINT during a saga run blocked on a row lock: exit 130, its statement cancelled, the charged saga released and named', async () => {
  const holder = await holdItem('item-sword');
  const before = await balanceOf(t.db, 'user-123');
  let id: string;
  try {
    const r = await interrupt(['saga', 'run', '--user', 'user-123', '--item', 'item-sword', '--lock-timeout', '30s'], 'SIGINT', 1);
    expect(r.left).toEqual([]);
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/Interrupted by SIGINT: 1 statement\(s\) cancelled on the server; none of them runs any more\. 1 saga\(s\) left in flight\./);
    const m = /free for recovery now: (\S+) \(in_progress\)\. Finish or undo them: sagactl saga recover --yes/.exec(r.stderr);
    expect(m).not.toBeNull();
    id = m![1];
    const [row] = await t.db.query('SELECT status, lease_expires_at <= now() AS free FROM saga_states WHERE transaction_id = $1', [id]);
    expect(row).toEqual({ status: 'in_progress', free: true });
  } finally {
    await holder.end();
  }
  // Its owner is gone: recover takes it at once (no --older-than wait) and finishes it.
  const recovered = await runBin(['saga', 'recover', '--yes', '--json'], { DATABASE_URL: t.url });
  expect(recovered.code).toBe(0);
  expect(JSON.parse(recovered.stdout).results).toEqual([expect.objectContaining({ transactionId: id, after: 'completed' })]);
  expect(await balanceOf(t.db, 'user-123')).not.toBe(before);
  expect((await runMain(['db', 'check'], { DATABASE_URL: t.url })).code).toBe(0);
});

test('SIGTERM during a saga load: exit 143, every statement cancelled, every saga in flight released, the summary still printed', async () => {
  const holder = await holdItem('item-potion');
  try {
    const r = await interrupt(['saga', 'load', '--count', '200', '--concurrency', '4', '--user', 'user-456', '--item', 'item-potion',
      '--lock-timeout', '30s', '--json'], 'SIGTERM', 1);
    expect(r.left).toEqual([]);
    expect(r.code).toBe(143);
    expect(r.stderr).toMatch(/Interrupted by SIGTERM: \d+ statement\(s\) cancelled on the server; none of them runs any more\./);
    const stuck = await t.db.query(`SELECT count(*)::int AS n, bool_and(lease_expires_at <= now()) AS free FROM saga_states
                                     WHERE user_id = 'user-456' AND status IN ('pending', 'in_progress', 'compensating')`);
    expect(stuck[0].n).toBeGreaterThan(0);
    expect(stuck[0].free).toBe(true);
    expect(r.stderr).toContain(`${stuck[0].n} saga(s) left in flight`);
    expect(JSON.parse(r.stdout).count).toBe(200);
  } finally {
    await holder.end();
  }
  expect((await runBin(['saga', 'recover', '--yes'], { DATABASE_URL: t.url })).code).toBe(0);
  expect((await t.db.query(`SELECT count(*)::int AS n FROM saga_states WHERE status NOT IN ('completed', 'failed', 'compensated')`))[0].n).toBe(0);
  expect((await runMain(['db', 'check'], { DATABASE_URL: t.url })).code).toBe(0);
});
