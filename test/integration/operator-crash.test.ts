import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestDb, TestDb } from '../support/database';
import { BIN, ROOT, runMain } from '../support/cli';
import { generateRows } from '../../src/seed/copy';

let t: TestDb;
beforeAll(async () => {
  t = await createTestDb();
  await generateRows(t.db, { users: 50, items: 5, seed: 7, balance: '1000000.00', stock: 1_000_000 }, () => undefined);
});
afterAll(async () => { await t.drop(); });

/** Starts `saga load` as a real process and SIGKILLs it `afterMs` after its first saga was written. */
async function killLoadAfter(mode: string, afterMs: number): Promise<void> {
  const sagas = async () => (await t.db.query('SELECT count(*)::int AS n FROM saga_states'))[0].n as number;
  const before = await sagas();
  const child = spawn(process.execPath, [BIN, 'saga', 'load', '--count', '1000000', '--concurrency', '16', '--mode', mode],
    { cwd: ROOT, env: { ...process.env, DATABASE_URL: t.url, CI: '' }, stdio: 'ignore' });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  // A busy machine may take a while to start node: kill it mid-load, not before it began.
  const deadline = Date.now() + 30_000;
  while ((await sagas()) === before && Date.now() < deadline) await sleep(20);
  await sleep(afterMs);
  child.kill('SIGKILL');
  await exited;
}

test('a load killed at random moments loses nothing: recover finishes or undoes every saga it left', async () => {
  for (const mode of ['orchestration', 'choreography', 'orchestration', 'choreography']) {
    await killLoadAfter(mode, 100 + Math.floor(Math.random() * 600));
  }
  const started = await t.db.query(`SELECT count(*)::int AS n FROM saga_states`);
  expect(started[0].n).toBeGreaterThan(0);
  const stuckBefore = await runMain(['saga', 'stuck', '--json'], { DATABASE_URL: t.url });
  expect(stuckBefore.code).toBe(0);
  // Killed mid-flight, the books still balance: only the stuck rule fails.
  const checkBefore = await runMain(['db', 'check', '--json'], { DATABASE_URL: t.url });
  expect(checkBefore.code).toBe(6);
  expect(JSON.parse(checkBefore.stdout).checks.filter((c: { ok: boolean }) => !c.ok).map((c: { name: string }) => c.name)).toEqual(['no_stuck_sagas']);

  const recovered = await runMain(['saga', 'recover', '--older-than', '0s', '--yes', '--json'], { DATABASE_URL: t.url });
  expect(recovered.code).toBe(0);
  const results = JSON.parse(recovered.stdout).results as { after: string }[];
  expect(results.length).toBeGreaterThan(0);
  expect(results.length).toBe(JSON.parse(stuckBefore.stdout).stuck.length);
  expect(results.every((r) => ['completed', 'compensated', 'failed'].includes(r.after))).toBe(true);

  const open = await t.db.query(`SELECT count(*)::int AS n FROM saga_states WHERE status IN ('pending', 'in_progress', 'compensating')`);
  expect(open[0].n).toBe(0);
  // Every balance is its start minus the totals of its completed sagas; every stock likewise.
  const balances = await t.db.query(`
    SELECT u.user_id FROM users u
     WHERE u.balance <> 1000000.00 - COALESCE((SELECT sum(s.price * s.quantity) FROM saga_states s
                                               WHERE s.user_id = u.user_id AND s.status = 'completed'), 0)`);
  expect(balances).toEqual([]);
  const stocks = await t.db.query(`
    SELECT i.item_id FROM items i
     WHERE i.stock <> 1000000 - COALESCE((SELECT sum(s.quantity) FROM saga_states s
                                          WHERE s.item_id = i.item_id AND s.status = 'completed'), 0)`);
  expect(stocks).toEqual([]);
  const twice = await t.db.query(`SELECT transaction_id, step, kind FROM saga_step_results GROUP BY 1, 2, 3 HAVING count(*) > 1`);
  expect(twice).toEqual([]);
  const undelivered = await t.db.query(`SELECT count(*)::int AS n FROM saga_events WHERE delivered_at IS NULL`);
  expect(undelivered[0].n).toBe(0);
  const checkAfter = await runMain(['db', 'check', '--json'], { DATABASE_URL: t.url });
  expect(JSON.parse(checkAfter.stdout).checks.filter((c: { ok: boolean }) => !c.ok)).toEqual([]);
  expect(checkAfter.code).toBe(0);
}, 120_000);
