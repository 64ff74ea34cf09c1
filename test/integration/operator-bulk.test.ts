import { createTestDb, TestDb } from '../support/database';
import { runMain } from '../support/cli';
import { balanceOf, runnerOn, stockOf } from '../support/saga';
import { loadFixtures } from '../../src/seed/fixtures';
import { createSagaClient, SagaClient } from '../../src/client';
import { Engine } from '../../src/saga/engine';

let t: TestDb;
let env: Record<string, string>;
let client: SagaClient;
beforeAll(async () => {
  t = await createTestDb();
  env = { DATABASE_URL: t.url };
  client = createSagaClient({ connectionString: t.url, actor: { user: 'tester', host: 'here' } });
});
afterAll(async () => {
  await client.close();
  await t.drop();
});
beforeEach(async () => {
  await t.db.query('TRUNCATE saga_events, saga_step_results, notifications, transaction_logs, saga_states, operator_audit, saga_stats_dirty, ledger');
  await loadFixtures(t.db, { reset: true });
  // The ledger starts from what the fixtures hold, so db check passes before and must pass after.
  await t.db.query('TRUNCATE ledger');
  await t.db.query(`INSERT INTO ledger (at, xact, db_user, application, account, account_id, delta, source)
    SELECT now(), 0, 'test', 'test', 'user', user_id, balance, 'opening' FROM users
    UNION ALL SELECT now(), 0, 'test', 'test', 'item', item_id, stock, 'opening' FROM items`);
});

const cli = (...argv: string[]) => runMain(argv, env);
const json = async (...argv: string[]) => {
  const r = await cli(...argv, '--json');
  return { ...r, out: r.stdout ? JSON.parse(r.stdout) : undefined };
};
const audit = () => t.db.query(`SELECT action, transaction_id, outcome, details FROM operator_audit ORDER BY id`);
const statuses = () => t.db.query(`SELECT status, count(*)::int AS n FROM saga_states GROUP BY status ORDER BY status`);

/** `n` completed purchases of one sword (100.00) each by user-123, or of what is named. */
async function purchases(n: number, userId = 'user-123', itemId = 'item-sword'): Promise<string[]> {
  const runner = runnerOn(t.db);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await runner.run({ userId, itemId, quantity: 1, mode: 'orchestration' })).transactionId);
  return ids;
}

/** A saga left in flight by a process elsewhere, its lease long expired: stuck. */
async function abandoned(id: string) {
  const engine = new Engine({ db: t.db, owner: 'elsewhere:1:gone', leaseMs: 30_000, lockTimeoutMs: 5000, grouping: false });
  await engine.start({ id, mode: 'orchestration', userId: 'user-123', itemId: 'item-sword', quantity: 2, inject: false });
  await engine.forward('reserve_inventory', { id, mode: 'orchestration', inject: false, eventId: null });
  await t.db.query(`UPDATE saga_states SET lease_expires_at = now() - interval '9 minutes', updated_at = updated_at - interval '10 minutes' WHERE transaction_id = $1`, [id]);
  await t.db.query(`UPDATE saga_step_results SET executed_at = executed_at - interval '10 minutes' WHERE transaction_id = $1`, [id]);
}

async function dbCheckPasses(): Promise<void> {
  const r = await cli('db', 'check', '--older-than', '1h', '--json');
  expect(JSON.parse(r.stdout).checks.filter((c: { ok: boolean }) => !c.ok)).toEqual([]);
  expect(r.code).toBe(0);
}

/** Every row of every table, as text: what --what-if must leave exactly as it was. */
async function everyTable(): Promise<Record<string, string>> {
  const tables = await t.db.query<{ name: string }>(`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`);
  const out: Record<string, string> = {};
  for (const { name } of tables) {
    const [row] = await t.db.query(`SELECT COALESCE(string_agg(x::text, E'\\n' ORDER BY x::text), '') AS rows FROM ${`"${name.replace(/"/g, '""')}"`} x`);
    out[name] = row.rows;
  }
  return out;
}

test('by FILTERS: the count and totals first; completed purchases only with --include-completed; db check passes after', async () => {
  await purchases(3);
  await abandoned('stuck-1');
  const dry = await json('saga', 'compensate', '--user', 'user-123', '--dry-run');
  expect(dry.code).toBe(0);
  expect(dry.out.bulk).toMatchObject({ sagas: 1, refund: '200.00', restock: 2, byUser: [{ userId: 'user-123', sagas: 1, refund: '200.00' }],
    byItem: [{ itemId: 'item-sword', sagas: 1, restock: 2 }], leftAlone: [{ status: 'completed', sagas: 3, why: expect.stringContaining('--include-completed') }] });
  const human = await cli('saga', 'compensate', '--user', 'user-123', '--include-completed', '--dry-run');
  expect(human.stdout).toContain('Would compensate 4 saga(s) selected by user=user-123: refund 500.00, restock 5.');

  const r = await json('saga', 'compensate', '--user', 'user-123', '--reason', 'INC-50 refunds', '--yes');
  expect(r.code).toBe(0);
  expect(r.out).toMatchObject({ outcome: 'done', processed: 1, counts: { compensated: 1 }, refunded: '200.00', restocked: 2 });
  expect(r.out.results).toEqual([expect.objectContaining({ transactionId: 'stuck-1', outcome: 'compensated', verified: true })]);
  expect(await statuses()).toEqual([{ status: 'compensated', n: 1 }, { status: 'completed', n: 3 }]);
  const all = await json('saga', 'compensate', '--user', 'user-123', '--include-completed', '--batch', '2', '--reason', 'INC-51 recall', '--yes');
  expect(all.code).toBe(0);
  expect(all.out).toMatchObject({ processed: 3, refunded: '300.00', restocked: 3 });
  expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
  expect(await stockOf(t.db, 'item-sword')).toBe(50);
  await dbCheckPasses();
  const bulk = (await audit()).filter((a) => a.action === 'bulk_compensate');
  expect(bulk).toEqual([
    expect.objectContaining({ transaction_id: null, outcome: 'done', details: expect.objectContaining({ filter: { userId: ['user-123'] }, processed: 1, batch: 100 }) }),
    expect.objectContaining({ transaction_id: null, outcome: 'done', details: expect.objectContaining({ includeCompleted: true, processed: 3, batch: 2, refunded: '300.00' }) }),
  ]);
  expect((await audit()).filter((a) => a.action === 'compensate')).toHaveLength(4);
});

test('--what-if changes nothing in any table, and reports exactly what the real run then does', async () => {
  await purchases(2);
  await purchases(1, 'user-456', 'item-potion');
  await abandoned('stuck-2');
  const before = await everyTable();
  const w = await json('saga', 'compensate', '--user', 'user-123,user-456', '--include-completed', '--what-if');
  expect(w.code).toBe(0);
  expect(await everyTable()).toEqual(before);
  expect(w.out).toMatchObject({ whatIf: true, processed: 4, counts: { compensated: 4 } });

  const ledgerMark = (await t.db.query(`SELECT max(id)::text AS id FROM ledger`))[0].id;
  const real = await json('saga', 'compensate', '--user', 'user-123,user-456', '--include-completed', '--reason', 'INC-60', '--yes');
  expect(real.code).toBe(0);
  const c = w.out.changes;
  for (const s of c.sagas) {
    expect((await t.db.query(`SELECT status FROM saga_states WHERE transaction_id = $1`, [s.transactionId]))[0].status).toBe(s.after);
  }
  expect(c.sagas.map((s: { before: string }) => s.before).sort()).toEqual(['completed', 'completed', 'completed', 'in_progress']);
  for (const u of c.users) expect(await balanceOf(t.db, u.userId)).toBe(u.after);
  for (const i of c.items) expect(await stockOf(t.db, i.itemId)).toBe(i.after);
  expect(c.users).toEqual([{ userId: 'user-123', before: '600.00', after: '1000.00' }, { userId: 'user-456', before: '30.00', after: '50.00' }]);
  expect(c.items).toEqual([{ itemId: 'item-potion', before: 99, after: 100 }, { itemId: 'item-sword', before: 46, after: 50 }]);
  const inserted = await t.db.query(`SELECT account, account_id AS "accountId", delta::text AS delta, source, transaction_id AS "transactionId", step, kind
                                       FROM ledger WHERE id > $1 ORDER BY id`, [ledgerMark]);
  // The same rows; the real run does several sagas at once, so their order between sagas may differ.
  const bySaga = (rows: { transactionId: string }[]) => [...rows].sort((a, b) => a.transactionId.localeCompare(b.transactionId));
  expect(bySaga(inserted)).toEqual(bySaga(c.ledger));
  const logs = await t.db.query(`SELECT log_id AS "logId", status FROM transaction_logs WHERE status = 'reversed' ORDER BY log_id`);
  expect(logs.map((l: { logId: string }) => l.logId)).toEqual(c.transactionLogs.map((l: { logId: string }) => l.logId));
  expect((await audit()).length).toBe(c.auditRows);
  await dbCheckPasses();
});

test('by ids, --what-if needs no reason nor confirmation, changes nothing, and its results are the real run\'s', async () => {
  const [id] = await purchases(1);
  const before = await everyTable();
  const w = await json('saga', 'compensate', id, 'no-such', '--include-completed', '--what-if');
  expect(w.code).toBe(0);
  expect(await everyTable()).toEqual(before);
  expect(w.out.changes.users).toEqual([{ userId: 'user-123', before: '900.00', after: '1000.00' }]);
  const real = await json('saga', 'compensate', id, 'no-such', '--include-completed', '--reason', 'INC-61', '--yes');
  expect(real.code).toBe(3);
  const outcomes = (r: { out: { results: { transactionId: string; outcome: string; verified: boolean | null }[] } }) =>
    r.out.results.map((x) => [x.transactionId, x.outcome, x.verified]);
  expect(outcomes(w)).toEqual(outcomes(real));
  expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
});

test('without a terminal and without --yes: exit 2, nothing written', async () => {
  await purchases(1);
  const r = await cli('saga', 'compensate', '--status', 'completed', '--include-completed', '--reason', 'r');
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('--yes');
  expect(await statuses()).toEqual([{ status: 'completed', n: 1 }]);
  expect(await audit()).toEqual([]);
});

describe('bad input: a clear message, exit 2, nothing written', () => {
  test.each([
    [['--rate', '0'], /--rate must be more than 0/],
    [['--rate', 'fast'], /--rate must be more than 0/],
    [['--rate', '-5/s'], /--rate must be more than 0/],
    [['--batch', '0'], /--batch must be a whole number from 1 to 10000/],
    [['--batch', '20000'], /--batch must be a whole number from 1 to 10000/],
    [['--limit', '0'], /--limit must be a whole number/],
    [['--status', 'nope'], /--status must be one or more of/],
    [['--step', 'pay'], /--step must be one or more of/],
    [['--error-code', 'OOPS'], /--error-code must be one or more of/],
    [['--mode', 'both'], /--mode must be one or more of/],
    [['--since', '1h', '--until', '2h'], /--since must be before --until/],
    [['--stuck', '--status', 'completed'], /no saga can match both/],
    [['--what-if', '--dry-run'], /pick one/],
    [['--parallel', '0'], /--parallel must be a whole number from 1 to 32/],
  ])('compensate --status completed %j', async (extra, message) => {
    await purchases(1);
    const argv = ['saga', 'compensate', '--include-completed', '--reason', 'r', '--yes', ...(extra.includes('--status') ? [] : ['--status', 'completed']), ...extra];
    const r = await cli(...argv);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
    expect(await statuses()).toEqual([{ status: 'completed', n: 1 }]);
    expect(await audit()).toEqual([]);
  });

  test('pacing with ids (it paces runs by FILTERS)', async () => {
    const r = await cli('saga', 'compensate', 'tx-1', '--rate', '5/s', '--reason', 'r', '--yes');
    expect([r.code, r.stderr]).toEqual([2, expect.stringContaining('--rate pace a run selected by FILTERS')]);
  });

  test('ids and FILTERS together', async () => {
    const r = await cli('saga', 'compensate', 'tx-1', '--user', 'user-123', '--reason', 'r', '--yes');
    expect([r.code, r.stderr]).toEqual([2, expect.stringContaining('Give transaction ids or FILTERS, not both.')]);
  });

  test.each([['saga', 'recover', '--rate', '0', '--yes'], ['saga', 'retry', '--status', 'compensation_failed', '--batch', '0', '--reason', 'r', '--yes'],
    ['saga', 'retry', '--reason', 'r', '--yes'], ['saga', 'retry', 'tx-1', '--status', 'completed', '--reason', 'r', '--yes'],
    ['saga', 'retry', '--status', 'completed', '--yes']].map((argv) => [argv.join(' '), argv]))('%s', async (_name, argv) => {
    const r = await cli(...(argv as string[]));
    expect(r.code).toBe(2);
    expect(await audit()).toEqual([]);
  });
});

test('an interrupted run says what it did, audits it, and the same command again finishes the rest', async () => {
  await purchases(5);
  const stop = new AbortController();
  const run = client.runBulk({ action: 'compensate', filter: { status: 'completed' }, includeCompleted: true, reason: 'INC-70', batch: 2,
    signal: stop.signal, onProgress: (done) => { if (done === 3) stop.abort('SIGINT'); } });
  await expect(run).rejects.toThrow('Stopped after 3 saga(s), each done whole; the same run again takes the rest.');
  expect(await statuses()).toEqual([{ status: 'compensated', n: 3 }, { status: 'completed', n: 2 }]);
  const again = await json('saga', 'compensate', '--status', 'completed', '--include-completed', '--reason', 'INC-70', '--yes');
  expect(again.out).toMatchObject({ processed: 2, outcome: 'done' });
  expect((await audit()).filter((a) => a.action === 'bulk_compensate').map((a) => [a.outcome, a.details.processed])).toEqual([['interrupted', 3], ['done', 2]]);
  await dbCheckPasses();
});

test('Ctrl-C mid-run through the CLI: exit 130, what was done is said and audited; the same command finishes', async () => {
  await purchases(4);
  const ctrlC = new AbortController();
  const argv = ['saga', 'compensate', '--status', 'completed', '--include-completed', '--rate', '4/s', '--parallel', '1', '--reason', 'INC-71', '--yes'];
  const run = runMain(argv, env, false, ctrlC.signal);
  for (let i = 0; i < 200 && (await t.db.query(`SELECT 1 FROM operator_audit WHERE action = 'compensate'`)).length === 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  ctrlC.abort('SIGINT');
  const r = await run;
  expect(r.code).toBe(130);
  expect(r.stderr).toMatch(/Interrupted by SIGINT\. Stopped after [1-3] of 4 sagas \(compensating\)\./);
  expect(r.stderr).toContain('run the same command again for the rest');
  const [bulk] = (await audit()).filter((a) => a.action === 'bulk_compensate');
  expect(bulk).toMatchObject({ outcome: 'interrupted' });
  const done = bulk.details.processed;
  expect((await statuses()).find((x: { status: string }) => x.status === 'compensated')?.n).toBe(done);
  const again = await json('saga', 'compensate', '--status', 'completed', '--include-completed', '--reason', 'INC-71', '--yes');
  expect(again.out).toMatchObject({ outcome: 'done', processed: 4 - done });
  await dbCheckPasses();
});

test('the library refuses pacing that would silently do nothing, before reading anything', async () => {
  await expect(client.runBulk({ action: 'compensate', filter: {}, reason: 'r', batch: 0 })).rejects.toThrow('batch must be a whole number from 1 to 10000, got 0.');
  await expect(client.runBulk({ action: 'retry', filter: {}, reason: 'r', batch: 10, ratePerSec: 0 })).rejects.toThrow('ratePerSec must be more than 0');
  expect(await audit()).toEqual([]);
});

test('the guard: money moved unrecorded on a touched user mid-run stops the run after that batch, naming it', async () => {
  await purchases(6);
  const report = await client.runBulk({ action: 'compensate', filter: { status: 'completed' }, includeCompleted: true, reason: 'INC-80', batch: 2,
    beforeGuard: async (scope) => {
      // A writer that bypasses the engine, on an account this batch touched.
      if (scope.users.includes('user-123')) await t.db.query(`UPDATE users SET balance = balance + 1 WHERE user_id = 'user-123'`);
    } });
  expect(report.outcome).toBe('guard_stopped');
  expect(report.processed).toBe(2);
  expect(report.violations).toEqual([expect.objectContaining({ check: 'movements_explained', detail: expect.stringContaining('user user-123 moved by 1.00 unrecorded') })]);
  expect(await statuses()).toEqual([{ status: 'compensated', n: 2 }, { status: 'completed', n: 4 }]);
  expect((await audit()).filter((a) => a.action === 'bulk_compensate')).toEqual([
    expect.objectContaining({ outcome: 'guard_stopped', details: expect.objectContaining({ violations: report.violations }) })]);
});

test('the guard through the CLI: exit 6 naming the broken invariant', async () => {
  await purchases(4);
  const run = cli('saga', 'compensate', '--status', 'completed', '--include-completed', '--batch', '4', '--rate', '2/s', '--reason', 'INC-81', '--yes', '--json');
  // Once the first saga is compensated, an unrecorded movement on its user, within the same batch.
  for (let i = 0; i < 200 && (await t.db.query(`SELECT 1 FROM operator_audit WHERE action = 'compensate'`)).length === 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  await t.db.query(`UPDATE users SET balance = balance - 3 WHERE user_id = 'user-123'`);
  const r = await run;
  expect(r.code).toBe(6);
  expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'guard_stopped', processed: 4 });
  expect(r.stderr).toMatch(/guard stopped the run after 4 saga\(s\): movements_explained broken by ledger #\d+ \(user user-123 moved by -3.00 unrecorded/);
});

test('recover by FILTERS takes only the stuck sagas the filter names, and audits the run', async () => {
  await abandoned('rec-1');
  await abandoned('rec-2');
  const before = await everyTable();
  const w = await json('saga', 'recover', '--step', 'reserve_inventory', '--what-if');
  expect(w.code).toBe(0);
  expect(w.out.changes.sagas).toEqual([{ transactionId: 'rec-1', before: 'in_progress', after: 'completed' }, { transactionId: 'rec-2', before: 'in_progress', after: 'completed' }]);
  expect(await everyTable()).toEqual(before);
  const one = await json('saga', 'recover', '--step', 'reserve_inventory', '--limit', '1', '--what-if');
  const mark = (await t.db.query(`SELECT max(id)::text AS id FROM ledger`))[0].id;
  const r = await json('saga', 'recover', '--step', 'reserve_inventory', '--limit', '1', '--rate', '100/s', '--yes');
  expect(r.code).toBe(0);
  // What the what-if said the run would do, it did: the same ledger rows (here none: the steps left are the log and the notification).
  expect(await t.db.query(`SELECT account, account_id AS "accountId", delta::text AS delta, source, transaction_id AS "transactionId", step, kind
                             FROM ledger WHERE id > $1 ORDER BY id`, [mark])).toEqual(one.out.changes.ledger);
  expect(one.out.changes.notifications).toEqual([{ notificationId: 'ntf-rec-1', before: null, after: { status: 'sent', attempts: 1 } }]);
  expect(await t.db.query(`SELECT status, attempts FROM notifications WHERE transaction_id = 'rec-1'`)).toEqual([{ status: 'sent', attempts: 1 }]);
  expect(r.out.results).toEqual([expect.objectContaining({ transactionId: 'rec-1', after: 'completed' })]);
  expect((await audit()).filter((a) => a.action === 'bulk_recover')).toEqual([
    expect.objectContaining({ outcome: 'done', details: expect.objectContaining({ filter: { step: ['reserve_inventory'], stuck: { olderThanMs: 60000 } }, limit: 1, rate: 100 }) })]);
  await dbCheckPasses();
});
