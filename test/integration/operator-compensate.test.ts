import { createTestDb, TestDb } from '../support/database';
import { runMain } from '../support/cli';
import { balanceOf, runnerOn, stockOf } from '../support/saga';
import { loadFixtures } from '../../src/seed/fixtures';
import { Engine } from '../../src/saga/engine';
import { SagaMode } from '../../src/saga/types';

let t: TestDb;
let env: Record<string, string>;
beforeAll(async () => {
  t = await createTestDb();
  env = { DATABASE_URL: t.url };
});
afterAll(async () => { await t.drop(); });
beforeEach(async () => {
  await t.db.query('TRUNCATE saga_events, saga_step_results, notifications, transaction_logs, saga_states, operator_audit, saga_stats_dirty, ledger');
  await loadFixtures(t.db, { reset: true });
});

/** A saga driven `steps` forward steps by a process on another host, then left: its lease ran out ten minutes ago. */
async function abandoned(id: string, steps: 1 | 2, mode: SagaMode = 'orchestration', owner = 'elsewhere:1:gone') {
  const engine = new Engine({ db: t.db, owner, leaseMs: 30_000, lockTimeoutMs: 5000, grouping: false });
  await engine.start({ id, mode, userId: 'user-123', itemId: 'item-sword', quantity: 2, inject: false });
  if (steps === 2) await engine.forward('reserve_inventory', { id, mode, inject: false, eventId: null });
  await t.db.query(`UPDATE saga_states SET lease_expires_at = now() - interval '9 minutes', updated_at = updated_at - interval '10 minutes'
                     WHERE transaction_id = $1`, [id]);
  await t.db.query(`UPDATE saga_step_results SET executed_at = executed_at - interval '10 minutes' WHERE transaction_id = $1`, [id]);
}

const cli = (...argv: string[]) => runMain(argv, env);
const audit = () => t.db.query('SELECT action, transaction_id, reason, outcome, os_user, host FROM operator_audit ORDER BY id');

test('stuck lists an abandoned saga with why, stalest first', async () => {
  await abandoned('tx-a', 2);
  const r = await cli('saga', 'stuck', '--json');
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout).stuck).toEqual([expect.objectContaining({
    transactionId: 'tx-a', status: 'in_progress', lastStep: 'reserve_inventory', why: expect.stringContaining('expired') })]);
  expect((await cli('saga', 'stuck', '--older-than', '1h', '--json')).stdout).toContain('"stuck": []');
});

test('--dry-run prints the exact plan and writes nothing', async () => {
  await abandoned('tx-b', 2);
  const r = await cli('saga', 'compensate', 'tx-b', '--dry-run');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/restock 2 item-sword \(ledger #\d+\); refund 200.00 to user-123 \(ledger #\d+\)/);
  expect(await balanceOf(t.db, 'user-123')).toBe('800.00');
  expect(await audit()).toEqual([]);
});

test('a real run refunds and restocks exactly, verifies, and audits who and why', async () => {
  await abandoned('tx-c', 2);
  const r = await cli('saga', 'compensate', 'tx-c', '--reason', 'INC-1 drill', '--yes', '--json');
  expect(r.code).toBe(0);
  const { results } = JSON.parse(r.stdout);
  expect(results[0]).toMatchObject({ outcome: 'compensated', verified: true, before: 'in_progress' });
  expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
  expect(await stockOf(t.db, 'item-sword')).toBe(50);
  expect(await audit()).toEqual([expect.objectContaining({ action: 'compensate', transaction_id: 'tx-c', reason: 'INC-1 drill', outcome: 'compensated' })]);
  // Its created minute is marked for the stats rollup to fold again.
  expect((await t.db.query('SELECT count(*)::int AS n FROM saga_stats_dirty'))[0].n).toBeGreaterThan(0);
  // Twice: refused, nothing moves.
  const again = await cli('saga', 'compensate', 'tx-c', '--reason', 'again', '--yes', '--json');
  expect(again.code).toBe(3);
  expect(JSON.parse(again.stdout).results[0]).toMatchObject({ outcome: 'refused', detail: 'already compensated' });
  expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
  expect((await audit()).map((a) => a.outcome)).toEqual(['compensated', 'refused']);
});

test('two compensations of one saga at once apply once', async () => {
  await abandoned('tx-d', 2);
  const [a, b] = await Promise.all([1, 2].map(() => cli('saga', 'compensate', 'tx-d', '--reason', 'race', '--yes', '--json')));
  const outcomes: string[] = [a, b].map((x) => JSON.parse(x.stdout).results[0].outcome);
  expect(outcomes.filter((o) => o === 'compensated')).toHaveLength(1);
  expect(['busy', 'refused']).toContain(outcomes.find((o) => o !== 'compensated'));
  expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
  const rows = await t.db.query(`SELECT count(*)::int AS n FROM saga_step_results WHERE transaction_id = 'tx-d' AND kind = 'compensation'`);
  expect(rows[0].n).toBe(2);
});

test('a completed purchase is refused unless --include-completed, which undoes all of it', async () => {
  const done = await runnerOn(t.db).run({ userId: 'user-123', itemId: 'item-sword', quantity: 1, mode: 'orchestration' });
  const refused = await cli('saga', 'compensate', done.transactionId, '--reason', 'r', '--yes');
  expect(refused.code).toBe(3);
  expect(refused.stdout).toContain('--include-completed');
  const r = await cli('saga', 'compensate', done.transactionId, '--include-completed', '--reason', 'refund ticket 9', '--yes', '--json');
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout).plans[0].undo.map((u: { action: string }) => u.action)).toEqual([
    `mark log-${done.transactionId} reversed`, 'restock 1 item-sword', 'refund 100.00 to user-123']);
  expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
  expect(await stockOf(t.db, 'item-sword')).toBe(50);
  const log = await t.db.query('SELECT status FROM transaction_logs WHERE transaction_id = $1', [done.transactionId]);
  expect(log[0].status).toBe('reversed');
});

test('unknown and failed sagas are refused with exit 3 while the others are still processed', async () => {
  await abandoned('tx-e', 1);
  const failed = await runnerOn(t.db).run({ userId: 'user-456', itemId: 'item-sword', quantity: 1, mode: 'orchestration' });
  const r = await cli('saga', 'compensate', 'no-such-saga', failed.transactionId, 'tx-e', '--reason', 'mixed', '--yes', '--json');
  expect(r.code).toBe(3);
  const outcomes = JSON.parse(r.stdout).results.map((x: { outcome: string }) => x.outcome);
  expect(outcomes).toEqual(['not_found', 'refused', 'compensated']);
  expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
});

test('a failing compensation leaves compensation_failed and exit 5; a later compensate finishes it', async () => {
  await abandoned('tx-f', 2);
  const failing = await cli('saga', 'compensate', 'tx-f', '--fail-at', 'validate_user', '--reason', 'drill', '--yes');
  expect(failing.code).toBe(5);
  const row = await t.db.query(`SELECT status FROM saga_states WHERE transaction_id = 'tx-f'`);
  expect(row[0].status).toBe('compensation_failed');
  expect(await stockOf(t.db, 'item-sword')).toBe(50);
  expect(await balanceOf(t.db, 'user-123')).toBe('800.00');
  const stuck = JSON.parse((await cli('saga', 'stuck', '--json')).stdout).stuck;
  expect(stuck.map((s: { transactionId: string }) => s.transactionId)).toEqual(['tx-f']);
  const finish = await cli('saga', 'compensate', '--stuck', '--status', 'compensation_failed', '--reason', 'finish', '--yes', '--json');
  expect(finish.code).toBe(0);
  expect(JSON.parse(finish.stdout).results[0]).toMatchObject({ transactionId: 'tx-f', outcome: 'compensated', verified: true });
  expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
});

test('a saga in flight with a live lease is refused as busy', async () => {
  await new Engine({ db: t.db, owner: 'elsewhere:1:alive', leaseMs: 60_000, lockTimeoutMs: 5000, grouping: false })
    .start({ id: 'tx-g', mode: 'orchestration', userId: 'user-123', itemId: 'item-sword', quantity: 1, inject: false });
  const r = await cli('saga', 'compensate', 'tx-g', '--reason', 'x', '--yes', '--json');
  expect(r.code).toBe(3);
  expect(JSON.parse(r.stdout).results[0].detail).toContain('busy');
  expect(await balanceOf(t.db, 'user-123')).toBe('900.00');
});

describe('recover', () => {
  test.each(['orchestration', 'choreography'] as const)('%s: resume finishes an abandoned saga', async (mode) => {
    await abandoned('tx-r', 1, mode);
    const r = await cli('saga', 'recover', '--yes', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).results).toEqual([expect.objectContaining({ transactionId: 'tx-r', before: 'in_progress', after: 'completed' })]);
    expect(await stockOf(t.db, 'item-sword')).toBe(48);
    // Claimed (with the reason, in the claim's own transaction), then finished; and the run as a whole.
    expect((await audit()).map((a) => [a.action, a.outcome])).toEqual([['recover', 'claimed'], ['recover', 'completed'], ['bulk_recover', 'done']]);
  });

  test('--strategy compensate undoes it instead', async () => {
    await abandoned('tx-s', 2);
    const r = await cli('saga', 'recover', '--strategy', 'compensate', '--yes', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).results[0]).toMatchObject({ after: 'compensated' });
    expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
    expect(await stockOf(t.db, 'item-sword')).toBe(50);
  });

  test('two recoverers at once take each saga once', async () => {
    for (let i = 0; i < 4; i++) await abandoned(`tx-m${i}`, 2); // 4 x 200.00: all user-123 can afford
    const [a, b] = await Promise.all([1, 2].map(() => cli('saga', 'recover', '--yes', '--json')));
    expect([a.code, b.code]).toEqual([0, 0]);
    const ids = [a, b].flatMap((x) => JSON.parse(x.stdout).results.map((r: { transactionId: string }) => r.transactionId));
    expect(ids.sort()).toEqual(['tx-m0', 'tx-m1', 'tx-m2', 'tx-m3']);
    expect(await stockOf(t.db, 'item-sword')).toBe(50 - 8);
  });

  test('--dry-run lists what it would do and writes nothing', async () => {
    await abandoned('tx-n', 1);
    const r = await cli('saga', 'recover', '--dry-run', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).plan).toEqual([expect.objectContaining({ transactionId: 'tx-n', action: 'resume' })]);
    expect(await stockOf(t.db, 'item-sword')).toBe(50);
  });
});

describe('bad input: a clear message, exit 2, nothing written', () => {
  test.each([
    [['saga', 'compensate', 'tx-z', '--yes']],
    [['saga', 'compensate', 'tx-z', '--reason', '   ', '--yes']],
    [['saga', 'compensate', 'tx-z', '--reason', 'r']],
    [['saga', 'compensate', '--stuck', '--limit', '0', '--reason', 'r', '--yes']],
    [['saga', 'compensate', '--stuck', '--limit', '-1', '--reason', 'r', '--yes']],
    [['saga', 'compensate', '--stuck', '--older-than', 'soon', '--reason', 'r', '--yes']],
    [['saga', 'compensate', '--stuck', '--status', 'completed', '--reason', 'r', '--yes']],
    [['saga', 'compensate', 'tx-z', '--stuck', '--reason', 'r', '--yes']],
    [['saga', 'compensate', "x'; DROP TABLE users; --", '--reason', 'r', '--yes']],
    [['saga', 'compensate', 'tx-z', '--fail-at', 'nope', '--reason', 'r', '--yes']],
    [['saga', 'compensate', '--reason', 'r', '--yes']],
    [['saga', 'recover', '--strategy', 'undo', '--yes']],
    [['saga', 'recover', '--older-than', '-5m', '--yes']],
    [['saga', 'recover', '--limit', '0', '--yes']],
    [['saga', 'recover', '--reason', '', '--yes']],
    [['saga', 'recover']],
    [['saga', 'stuck', '--older-than', 'x']],
    [['saga', 'stuck', '--limit', '0']],
    [['saga', 'compensate', 'tx-z', '--undo', 'nope', '--reason', 'r', '--yes']],
    [['saga', 'compensate', 'tx-z', 'tx-y', '--undo', 'validate_user', '--reason', 'r', '--yes']],
    [['saga', 'compensate', '--stuck', '--undo', 'validate_user', '--reason', 'r', '--yes']],
    [['saga', 'recover', '--reason', "''", '--yes']],
  ])('%j', async (argv) => {
    await abandoned('tx-z', 2);
    const r = await runMain(argv, env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error: /);
    expect(await balanceOf(t.db, 'user-123')).toBe('800.00');
    expect(await audit()).toEqual([]);
    expect((await t.db.query(`SELECT status FROM saga_states WHERE transaction_id = 'tx-z'`))[0].status).toBe('in_progress');
  });
});
