import os from 'node:os';
import crypto from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { admin, createTestDb, TestDb } from '../support/database';
import { runMain } from '../support/cli';
import { runnerOn } from '../support/saga';
import { loadFixtures } from '../../src/seed/fixtures';
import { SagaRunner } from '../../src/saga/service';
import { DEFAULT_LOCK_TIMEOUT_MS, leaseOwner } from '../../src/saga/engine';
import { backendPids } from '../../src/db/pool';
import { describeLease, explainSagas, SagaForensics, terminateBlocker } from '../../src/operator/forensics';

/** inquirer replaced: the confirmation is answered by `answer`, which sees the question (no prompt is expected unless set). */
let answer: (message: string) => Promise<boolean> = async () => { throw new Error('no prompt expected'); };
jest.mock('inquirer', () => ({
  __esModule: true,
  default: { createPromptModule: () => async (questions: { name: string; message: string }[]) => ({ [questions[0].name]: await answer(questions[0].message) }) },
}));

let t: TestDb;
const role = `sagactl_fx_${crypto.randomBytes(3).toString('hex')}`;
const clients: Client[] = [];
beforeAll(async () => {
  t = await createTestDb();
  await loadFixtures(t.db);
  await runnerOn(t.db).run({ userId: 'user-123', itemId: 'item-potion', quantity: 1, mode: 'orchestration', transactionId: 'done-1' });
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
});
afterAll(async () => {
  await t.drop();
  await admin((c) => c.query(`DROP ROLE IF EXISTS ${role}`));
});

const cli = (argv: string[], url = t.url, tty = false) => runMain(argv, { DATABASE_URL: url }, tty);

/** A session of its own, named, that locks `sql`'s rows and then sits idle in its transaction. */
async function holder(applicationName: string, sql: string): Promise<{ client: Client; pid: number }> {
  const client = new Client({ connectionString: t.url, application_name: applicationName });
  client.on('error', () => undefined);
  clients.push(client);
  await client.connect();
  const pid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
  await client.query('BEGIN');
  await client.query(sql);
  return { client, pid };
}

/** A session waiting for a row lock, bounded by its own lock_timeout. */
async function waiter(applicationName: string, sql: string): Promise<number> {
  const client = new Client({ connectionString: t.url, application_name: applicationName });
  client.on('error', () => undefined);
  clients.push(client);
  await client.connect();
  const pid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
  await client.query(`SET lock_timeout = '20s'`);
  void client.query(sql).catch(() => undefined);
  for (let i = 0; i < 100; i++) {
    const [w] = await t.db.query(`SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1`, [pid]);
    if (w?.wait_event_type === 'Lock') return pid;
    await sleep(20);
  }
  throw new Error('the waiter never waited');
}

/** A choreography saga left after its first step by a process whose one-second lease then runs out. */
async function halfDone(id: string): Promise<void> {
  const runner = new SagaRunner({ db: t.db, owner: leaseOwner(), leaseMs: 1000, lockTimeoutMs: DEFAULT_LOCK_TIMEOUT_MS, grouping: false });
  await runner.engine.start({ id, mode: 'choreography', userId: 'user-123', itemId: 'item-sword', quantity: 1, inject: false });
}

test('saga show --explain: the idle-in-transaction holder of its user row and the session queued behind it', async () => {
  const held = await holder('fx-idle-holder', `SELECT * FROM users WHERE user_id = 'user-123' FOR UPDATE`);
  const queued = await waiter('fx-waiter', `UPDATE users SET updated_at = now() WHERE user_id = 'user-123'`);
  await sleep(1100);
  const r = await cli(['saga', 'show', 'done-1', '--explain', '--json']);
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out.transactionId).toBe('done-1');
  expect(out.forensics).toHaveLength(1);
  const f: SagaForensics = out.forensics[0];
  expect(f.lease).toMatchObject({ owner: null, verdict: 'no lease' });
  expect(f.hidden).toEqual([]);
  expect(f.sessions).toEqual([
    expect.objectContaining({ pid: held.pid, role: 'holds', rows: ['users user-123'], visible: true, applicationName: 'fx-idle-holder',
      clientAddr: '127.0.0.1', state: 'idle in transaction', query: `SELECT * FROM users WHERE user_id = 'user-123' FOR UPDATE`, blockedBy: [] }),
    expect.objectContaining({ pid: queued, role: 'waits', rows: ['users user-123'], applicationName: 'fx-waiter', state: 'active', blockedBy: [held.pid] }),
  ]);
  expect(f.sessions[0].stateSeconds).toBeGreaterThanOrEqual(1);
  expect(f.sessions[0].xactSeconds).toBeGreaterThanOrEqual(1);

  const human = await cli(['saga', 'show', 'done-1', '--explain']);
  expect(human.code).toBe(0);
  expect(human.stdout).toMatch(new RegExp(`${held.pid} +holds +users user-123 +fx-idle-holder +127.0.0.1 +idle in transaction`));
  expect(human.stdout).toContain('lease: no lease');
});

test('saga stuck --explain: each stuck saga with its holders and the process behind its lease (here, another host, gone)', async () => {
  for (const id of ['stuck-here', 'stuck-other-host', 'stuck-dead-owner']) await halfDone(id);
  await t.db.query(`UPDATE saga_states SET lease_owner = 'db-7.example:4242:abc' WHERE transaction_id = 'stuck-other-host'`);
  await t.db.query(`UPDATE saga_states SET lease_owner = $1 WHERE transaction_id = 'stuck-dead-owner'`, [`${os.hostname()}:999999999:gone`]);
  await sleep(1100);
  const held = await holder('fx-item-holder', `UPDATE items SET updated_at = now() WHERE item_id = 'item-sword'`);
  const r = await cli(['saga', 'stuck', '--explain', '--older-than', '0s', '--json']);
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout);
  const ids = out.stuck.map((s: { transactionId: string }) => s.transactionId).sort();
  expect(ids).toEqual(['stuck-dead-owner', 'stuck-here', 'stuck-other-host']);
  const by = (id: string): SagaForensics => out.forensics.find((f: SagaForensics) => f.transactionId === id);
  expect(by('stuck-here').lease).toMatchObject({ host: os.hostname(), pid: process.pid, onThisHost: true, alive: true, expired: true });
  expect(by('stuck-here').lease.verdict).toBe(`process ${process.pid} on this host is running, lease expired`);
  expect(by('stuck-other-host').lease).toMatchObject({ host: 'db-7.example', pid: 4242, onThisHost: false, alive: null });
  expect(by('stuck-other-host').lease.verdict).toMatch(/on host db-7\.example \(cannot be checked from here\)/);
  expect(by('stuck-dead-owner').lease).toMatchObject({ onThisHost: true, alive: false });
  for (const id of ids) {
    expect(by(id).sessions).toEqual([expect.objectContaining({ pid: held.pid, role: 'holds', rows: ['items item-sword'], applicationName: 'fx-item-holder' })]);
  }
  const human = await cli(['saga', 'stuck', '--explain', '--older-than', '0s']);
  expect(human.stdout).toContain('3 stuck');
  expect(human.stdout).toMatch(/stuck-dead-owner .*lease: process 999999999 on this host is gone/);
});

test('--terminate-blocker --yes ends the holder once (for every saga it held), audited; a holder gone is exit 3', async () => {
  const held = await holder('fx-doomed', `SELECT * FROM items WHERE item_id = 'item-sword' FOR UPDATE`);
  await sleep(1000);
  const r = await cli(['saga', 'stuck', '--explain', '--older-than', '0s', '--terminate-blocker', '--yes', '--reason', 'INC-1: psql left open', '--json']);
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out.terminations).toEqual([expect.objectContaining({ pid: held.pid, outcome: 'terminated', applicationName: 'fx-doomed' })]);
  // One session holding the item of three stuck sagas: terminated once, for all three.
  expect([...out.terminations[0].sagas].sort()).toEqual(['stuck-dead-owner', 'stuck-here', 'stuck-other-host']);
  await expect(held.client.query('SELECT 1')).rejects.toThrow();
  const audit = await t.db.query(`SELECT action, transaction_id, reason, outcome, details FROM operator_audit WHERE action = 'terminate_backend'`);
  expect(audit).toHaveLength(1);
  expect(audit[0]).toMatchObject({ action: 'terminate_backend', reason: 'INC-1: psql left open', outcome: 'terminated',
    details: expect.objectContaining({ pid: held.pid, application: 'fx-doomed', query: `SELECT * FROM items WHERE item_id = 'item-sword' FOR UPDATE`,
      state: 'idle in transaction', sagas: expect.any(Array) }) });
  expect(audit[0].details.heldSeconds).toBeGreaterThanOrEqual(1);
  // Nothing holds them any more: nothing to terminate, exit 3.
  const again = await cli(['saga', 'stuck', '--explain', '--older-than', '0s', '--terminate-blocker', '--yes']);
  expect(again.code).toBe(3);
  expect(again.stdout).toMatch(/nothing to terminate/);
  expect(await t.db.query(`SELECT 1 FROM operator_audit WHERE action = 'terminate_backend'`)).toHaveLength(1);
});

test('a row share-locked by two sessions (a MultiXact): its holders are found through the waiter, the one it waits for now first', async () => {
  const a = await holder('fx-share-a', `SELECT * FROM users WHERE user_id = 'user-123' FOR SHARE`);
  const b = await holder('fx-share-b', `SELECT * FROM users WHERE user_id = 'user-123' FOR SHARE`);
  const queued = await waiter('fx-writer', `UPDATE users SET updated_at = now() WHERE user_id = 'user-123'`);
  const roles = async () => (await explainSagas(t.db, ['done-1']))[0].sessions.map((s) => [s.pid, s.role, s.blockedBy]);
  expect(await roles()).toEqual([[a.pid, 'blocks', []], [queued, 'waits', [a.pid]]]);
  await a.client.query('ROLLBACK');
  for (let i = 0; i < 50 && JSON.stringify(await roles()) !== JSON.stringify([[b.pid, 'blocks', []], [queued, 'waits', [b.pid]]]); i++) await sleep(20);
  expect(await roles()).toEqual([[b.pid, 'blocks', []], [queued, 'waits', [b.pid]]]);
});

test('a blocker that let go between the look and the terminate is left alone: gone, not terminated, not audited', async () => {
  const held = await holder('fx-brief', `SELECT * FROM users WHERE user_id = 'user-123' FOR UPDATE`);
  const [f] = await explainSagas(t.db, ['done-1']);
  expect(f.sessions.map((s) => s.pid)).toEqual([held.pid]);
  await held.client.query('ROLLBACK');
  const result = await terminateBlocker(t.db, { user: 'test', host: 'here' }, { sagas: ['done-1'], blocker: f.sessions[0], reason: 'test' });
  expect(result.outcome).toBe('gone');
  expect((await held.client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  // The same pid in a new transaction is another blocker: still left alone.
  await held.client.query('BEGIN');
  await held.client.query(`SELECT * FROM users WHERE user_id = 'user-123' FOR UPDATE`);
  expect((await terminateBlocker(t.db, { user: 'test', host: 'here' }, { sagas: ['done-1'], blocker: f.sessions[0], reason: 'test' })).outcome).toBe('gone');
  expect(await t.db.query(`SELECT 1 FROM operator_audit WHERE reason = 'test'`)).toEqual([]);
});

test('at the prompt: the question names pid, application and query; a holder that let go meanwhile is said, exit 3; a no is exit 2', async () => {
  const held = await holder('fx-asked', `SELECT * FROM users WHERE user_id = 'user-123' FOR UPDATE`);
  const asked: string[] = [];
  answer = async (message) => {
    asked.push(message);
    await held.client.query('ROLLBACK');
    return true;
  };
  const r = await cli(['saga', 'show', 'done-1', '--explain', '--terminate-blocker'], t.url, true);
  expect(asked).toEqual([expect.stringMatching(new RegExp(`^Terminate backend pid ${held.pid} \\(fx-asked, idle in transaction for .*: `
    + `SELECT \\* FROM users WHERE user_id = 'user-123' FOR UPDATE\\)\\? It holds rows of saga\\(s\\) done-1`))]);
  expect(r.code).toBe(3);
  expect(r.stdout).toContain(`backend pid ${held.pid} no longer holds those rows (ended or moved on meanwhile); not terminated`);
  expect((await held.client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);

  await held.client.query('BEGIN');
  await held.client.query(`SELECT * FROM users WHERE user_id = 'user-123' FOR UPDATE`);
  answer = async () => false;
  const no = await cli(['saga', 'show', 'done-1', '--explain', '--terminate-blocker'], t.url, true);
  expect(no.code).toBe(2);
  expect(no.stderr).toMatch(/Not confirmed; nothing terminated/);
  expect((await held.client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  expect(await t.db.query(`SELECT 1 FROM operator_audit WHERE transaction_id = 'done-1'`)).toEqual([]);
});

test('never its own backends: a lock held by this client is not reported, so never terminated', async () => {
  await t.db.withTransaction(async (tx) => {
    await tx.query(`SELECT * FROM users WHERE user_id = 'user-123' FOR UPDATE`);
    const [f] = await explainSagas(t.db, ['done-1'], backendPids(t.db.pool));
    expect(f.sessions).toEqual([]);
  });
});

test('a role that may not see nor end the holder: hidden details said, termination refused with exit 4 naming the pid', async () => {
  await admin((c) => c.query(`CREATE ROLE ${role} LOGIN`));
  await t.db.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`);
  const held = await holder('fx-superuser-session', `SELECT * FROM users WHERE user_id = 'user-123' FOR UPDATE`);
  const url = new URL(t.url);
  url.username = role;
  const looked = await cli(['saga', 'show', 'done-1', '--explain', '--json'], url.toString());
  expect(looked.code).toBe(0);
  const f: SagaForensics = JSON.parse(looked.stdout).forensics[0];
  // Another role's session: its pid, role, user and application show; its client, state, times and query do not.
  expect(f.sessions).toEqual([expect.objectContaining({ pid: held.pid, role: 'holds', rows: ['users user-123'], visible: false,
    applicationName: 'fx-superuser-session', user: 'postgres', clientAddr: null, state: null, xactSeconds: null, query: null })]);
  expect(f.hidden[0]).toMatch(/hidden from this role.*pg_read_all_stats/);
  // Without INSERT on operator_audit it could not be audited: refused before anything is ended.
  const unaudited = await cli(['saga', 'show', 'done-1', '--explain', '--terminate-blocker', '--yes'], url.toString());
  expect(unaudited.code).toBe(4);
  expect(unaudited.stderr).toMatch(/may not INSERT into operator_audit.*Nothing was terminated/);
  expect((await held.client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  await t.db.query(`GRANT INSERT ON operator_audit TO ${role}`);
  const r = await cli(['saga', 'show', 'done-1', '--explain', '--terminate-blocker', '--yes'], url.toString());
  expect(r.code).toBe(4);
  expect(r.stderr).toMatch(new RegExp(`Permission denied to terminate backend pid ${held.pid}`));
  expect((await held.client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
});

describe('bad input', () => {
  test('--terminate-blocker without --explain: exit 2, before connecting', async () => {
    for (const argv of [['saga', 'stuck', '--terminate-blocker', '--yes'], ['saga', 'show', 'done-1', '--terminate-blocker', '--yes']]) {
      const r = await cli(argv, 'postgres://nobody@127.0.0.1:1/none');
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--terminate-blocker needs --explain/);
    }
  });
  test('--terminate-blocker without a terminal and without --yes: exit 2, nothing asked', async () => {
    const r = await cli(['saga', 'show', 'done-1', '--explain', '--terminate-blocker']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--yes/);
  });
  test('an empty --reason: exit 2', async () => {
    expect((await cli(['saga', 'show', 'done-1', '--explain', '--terminate-blocker', '--yes', '--reason', ' '])).code).toBe(2);
  });
  test('an id that does not exist: exit 3', async () => {
    const r = await cli(['saga', 'show', 'no-such-saga', '--explain', '--terminate-blocker', '--yes']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/No saga with id "no-such-saga"/);
  });
  test('a lease owner not of the form host:pid:run is said as such', () => {
    expect(describeLease('legacy-worker', null, null).verdict).toBe('owner "legacy-worker" (not host:pid:run), lease valid');
  });
});
