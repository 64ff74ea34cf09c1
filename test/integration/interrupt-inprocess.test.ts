import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { createTestDb, TestDb } from '../support/database';
import { runMain } from '../support/cli';
import { balanceOf } from '../support/saga';
import { loadFixtures } from '../../src/seed/fixtures';
import { cancelOwnWork, releaseLeases } from '../../src/db/cancel';

// Ctrl-C and SIGTERM as the process gets them (main's abort signal, and the command's own listener),
// delivered in-process; and the cancellation itself (cancelOwnWork) against real sessions.

let t: TestDb;
beforeAll(async () => {
  t = await createTestDb();
});
afterAll(async () => { await t.drop(); });
beforeEach(async () => {
  await t.db.query('TRUNCATE saga_events, saga_step_results, notifications, transaction_logs, saga_states, ledger');
  await loadFixtures(t.db, { reset: true });
});

async function session(name: string): Promise<Client> {
  const c = new Client({ connectionString: t.url, application_name: name });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** The server process of a session (pg sets it on connect; its types do not declare it). */
const pidOf = (c: Client) => (c as unknown as { processID: number }).processID;

async function holdRow(table: 'items' | 'users', id: string): Promise<Client> {
  const c = await session('row-holder');
  await c.query('BEGIN');
  await c.query(`SELECT 1 FROM ${table} WHERE ${table === 'items' ? 'item_id' : 'user_id'} = $1 FOR UPDATE`, [id]);
  return c;
}

const ours = (command: string) => t.db.query<{ pid: number; state: string; wait: string | null }>(
  `SELECT pid, state, wait_event_type AS wait FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE $2`, [t.name, `sagactl:${command}:%`]);

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Runs a command in-process and, once `ready`, delivers `signal` as the process would: main's
 * abort signal, and the listeners the command added for it (never anyone else's).
 */
async function interruptWhen(argv: string[], signal: 'SIGINT' | 'SIGTERM', ready: () => Promise<boolean>) {
  const before = process.listeners(signal);
  const controller = new AbortController();
  const running = runMain(argv, { DATABASE_URL: t.url }, false, controller.signal);
  await waitFor('the command to be ready', ready);
  controller.abort(signal);
  for (const listener of process.listeners(signal).filter((l) => !before.includes(l))) (listener as () => void)();
  const r = await running;
  expect(process.listeners(signal)).toEqual(before);
  return r;
}

test('Ctrl-C while saga run waits on a row lock: exit 130, its statement cancelled, the charged saga released and named', async () => {
  const holder = await holdRow('items', 'item-sword');
  try {
    const r = await interruptWhen(['saga', 'run', '--user', 'user-123', '--item', 'item-sword', '--lock-timeout', '30s'], 'SIGINT',
      async () => (await ours('saga-run')).some((s) => s.wait === 'Lock'));
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/Interrupted by SIGINT: 1 statement\(s\) cancelled on the server; none of them runs any more\. 1 saga\(s\) left in flight\./);
    const m = /free for recovery now: (\S+) \(in_progress\)\. Finish or undo them: sagactl saga recover --yes/.exec(r.stderr);
    expect(m).not.toBeNull();
    expect(await ours('saga-run')).toEqual([]);
    const [row] = await t.db.query('SELECT status, lease_expires_at <= now() AS free FROM saga_states WHERE transaction_id = $1', [m![1]]);
    expect(row).toEqual({ status: 'in_progress', free: true });
  } finally {
    await holder.end();
  }
});

test('SIGTERM while saga load waits before anything is charged: exit 143, how far it got, no saga left behind', async () => {
  const holder = await holdRow('users', 'user-123');
  try {
    const r = await interruptWhen(['saga', 'load', '--count', '50', '--concurrency', '2', '--user', 'user-123', '--item', 'item-potion',
      '--lock-timeout', '30s', '--json'], 'SIGTERM', async () => (await ours('saga-load')).some((s) => s.wait === 'Lock'));
    expect(r.code).toBe(143);
    const err = JSON.parse(r.stderr.trimEnd().split('\n').pop()!).error;
    expect(err.exitCode).toBe(143);
    expect(err.message).toMatch(/^Interrupted by SIGTERM: \d+ statement\(s\) cancelled on the server; none of them runs any more\. No saga was left in flight\. Stopped after 0 of 50 sagas \(saga load\)\.$/);
    expect(JSON.parse(r.stdout)).toMatchObject({ count: 50, completed: 0, unfinished: 50 });
    expect(await ours('saga-load')).toEqual([]);
  } finally {
    await holder.end();
  }
  expect((await t.db.query('SELECT count(*)::int AS n FROM saga_states'))[0].n).toBe(0);
  expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
});

test('Ctrl-C during a bulk compensation: exit 130, and its bulk audit row still says what it did, though the pool was ended', async () => {
  for (let i = 0; i < 6; i++) expect((await runMain(['saga', 'run', '--user', 'user-123', '--item', 'item-potion', '--id', `bulk-${i}`], { DATABASE_URL: t.url })).code).toBe(0);
  await t.db.query('TRUNCATE operator_audit');
  const r = await interruptWhen(['saga', 'compensate', '--status', 'completed', '--include-completed', '--rate', '4/s', '--parallel', '1',
    '--reason', 'INC-80', '--yes'], 'SIGINT', async () => (await t.db.query(`SELECT 1 FROM operator_audit WHERE action = 'compensate'`)).length > 0);
  expect(r.code).toBe(130);
  const compensated = (await t.db.query(`SELECT count(*)::int AS n FROM saga_states WHERE status = 'compensated'`))[0].n;
  expect(compensated).toBeGreaterThan(0);
  expect(compensated).toBeLessThan(6);
  const bulk = await t.db.query(`SELECT outcome, reason, details FROM operator_audit WHERE action = 'bulk_compensate'`);
  expect(bulk).toEqual([{ outcome: 'interrupted', reason: 'INC-80', details: expect.objectContaining({ processed: compensated, counts: { compensated } }) }]);
});

test('Ctrl-C during saga import: exit 130, its audit row says interrupted and counts what went in', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-int-'));
  const holder = await session('table-holder');
  try {
    for (let i = 0; i < 3; i++) expect((await runMain(['saga', 'run', '--user', 'user-123', '--item', 'item-potion', '--id', `imp-${i}`], { DATABASE_URL: t.url })).code).toBe(0);
    const file = path.join(dir, 'a.ndjson');
    expect((await runMain(['saga', 'export', '--output', file], { DATABASE_URL: t.url })).code).toBe(0);
    await t.db.query(`TRUNCATE saga_events, saga_step_results, notifications, transaction_logs, saga_states, operator_audit`);
    // The import's first batch of sagas waits to insert while another session holds the table.
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE saga_states IN SHARE MODE');
    const r = await interruptWhen(['saga', 'import', file, '--reason', 'INC-81', '--lock-timeout', '30s'], 'SIGINT',
      async () => (await ours('saga-import')).some((s) => s.wait === 'Lock'));
    expect(r.code).toBe(130);
    await holder.query('ROLLBACK');
    expect(await t.db.query('SELECT transaction_id FROM saga_states')).toEqual([]);
    const audit = await t.db.query(`SELECT outcome, reason, details FROM operator_audit WHERE action = 'import'`);
    expect(audit).toEqual([{ outcome: 'interrupted', reason: 'INC-81', details: expect.objectContaining({ imported: { user: 0, item: 0, saga: 0 }, complete: false }) }]);
  } finally {
    await holder.end();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe('cancelOwnWork', () => {
  test('cancels a running statement, ends an open transaction (rolled back), leaves other sessions alone, and frees this process\'s sagas', async () => {
    const running = await session('ours-running');
    const open = await session('ours-open');
    const bystander = await session('not-ours');
    try {
      const [runningPid, openPid] = [pidOf(running), pidOf(open)];
      const sleeping = running.query('SELECT pg_sleep(30)').then(() => 'finished', (e) => e.code);
      await open.query('BEGIN');
      await open.query(`UPDATE users SET balance = 0 WHERE user_id = 'user-123'`);
      await bystander.query('BEGIN');
      await bystander.query('SELECT 1');
      await t.db.query(`INSERT INTO saga_states (transaction_id, status, user_id, item_id, quantity, price, mode, lease_owner, lease_expires_at)
                        VALUES ('mine', 'in_progress', 'user-123', 'item-sword', 1, 100.00, 'orchestration', $1, now() + interval '1 hour'),
                               ('theirs', 'in_progress', 'user-123', 'item-sword', 1, 100.00, 'orchestration', $2, now() + interval '1 hour')`,
      [`${os.hostname()}:${process.pid}:run1`, `${os.hostname()}:${process.pid + 1}:run1`]);
      await waitFor('the sleep to run', async () => (await t.db.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'`, [runningPid])).length === 1);

      const report = await cancelOwnWork({ url: t.url, pids: [runningPid, openPid], connectTimeoutMs: 5000 });
      expect(report).toEqual({ cancelled: 2, stillRunning: [], left: [{ transactionId: 'mine', status: 'in_progress' }] });
      expect(await sleeping).toBe('57014');
      expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
      const free = await t.db.query(`SELECT transaction_id, lease_expires_at <= now() AS free FROM saga_states ORDER BY transaction_id`);
      expect(free).toEqual([{ transaction_id: 'mine', free: true }, { transaction_id: 'theirs', free: false }]);
      expect((await bystander.query('SELECT 2 AS still')).rows).toEqual([{ still: 2 }]);
    } finally {
      await Promise.all([running, open, bystander].map((c) => c.end().catch(() => undefined)));
    }
  });

  test('with no time to wait, a statement still running is reported as such', async () => {
    const running = await session('ours-running');
    try {
      // The cancel is asked for, but with no time to wait the report is made from that one look,
      // when the statement was still running: it is named, so the user knows it may go on a moment.
      const pid = pidOf(running);
      const sleeping = running.query('SELECT pg_sleep(30)').catch(() => undefined);
      await waitFor('the sleep to run', async () => (await t.db.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'`, [pid])).length === 1);
      const report = await cancelOwnWork({ url: t.url, pids: [pid], connectTimeoutMs: 5000, waitMs: 0 });
      expect(report).toEqual({ cancelled: 1, stillRunning: [pid], left: [] });
      await sleeping;
    } finally {
      await running.end().catch(() => undefined);
    }
  });

  test('a server that cannot be reached: the report says why, nothing is thrown', async () => {
    const report = await cancelOwnWork({ url: 'postgres://postgres@127.0.0.1:1/none', pids: [123], connectTimeoutMs: 1000 });
    expect(report).toMatchObject({ cancelled: 0, stillRunning: [], left: [] });
    expect(report.failed).toMatch(/ECONNREFUSED/);
  });

  test('leases are released only where they can be: a schema not migrated, a role without the right, a read-only server; anything else is raised', async () => {
    const empty = await createTestDb({ empty: true });
    try {
      expect(await releaseLeases((sql, params) => empty.db.pool.query(sql, params))).toEqual([]);
    } finally {
      await empty.drop();
    }
    const failing = (code: string) => () => Promise.reject(Object.assign(new Error(`refused ${code}`), { code }));
    for (const code of ['42501', '25006', '55P03']) expect(await releaseLeases(failing(code))).toEqual([]);
    await expect(releaseLeases(failing('XX000'))).rejects.toThrow('refused XX000');
  });
});
