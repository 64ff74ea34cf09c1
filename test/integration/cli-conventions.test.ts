import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createTestDb, TestDb } from '../support/database';
import { BIN, ROOT, runMain } from '../support/cli';
import { loadFixtures } from '../../src/seed/fixtures';

let t: TestDb;
let env: Record<string, string>;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-conventions-'));
beforeAll(async () => {
  t = await createTestDb();
  env = { DATABASE_URL: t.url };
  await loadFixtures(t.db);
  for (const [id, item] of [['conv-1', 'item-potion'], ['conv-2', 'item-out-of-stock']]) {
    await runMain(['saga', 'run', '--user', 'user-123', '--item', item, '--id', `${id}-0123456789abcdef0123456789`], env);
  }
});
afterAll(async () => {
  await t.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const cli = (argv: string[], extra: Record<string, string> = {}) => runMain(argv, { ...env, ...extra });
const lastLine = (text: string) => text.trimEnd().split('\n').at(-1)!;
const jsonError = (stderr: string) => JSON.parse(lastLine(stderr)).error;
const sagaCount = async () => (await t.db.query('SELECT count(*)::int AS n FROM saga_states'))[0].n;

describe('errors a script can parse', () => {
  test('not found: exit 3, NOT_FOUND as the last line of stderr, nothing on stdout', async () => {
    const r = await cli(['saga', 'show', 'no-such-saga', '--json']);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(jsonError(r.stderr)).toEqual({ code: 'NOT_FOUND', exitCode: 3, message: 'No saga with id "no-such-saga".', hint: null });
    expect(r.stderr).not.toContain('error: No saga'); // one description of the error, the JSON one
  });

  test('a schema that is not migrated: exit 3, STATE, with the fix', async () => {
    const empty = await createTestDb({ empty: true });
    try {
      const r = await runMain(['saga', 'list', '--json'], { DATABASE_URL: empty.url });
      expect(r.code).toBe(3);
      expect(jsonError(r.stderr)).toMatchObject({ code: 'STATE', exitCode: 3, hint: expect.stringContaining('Run `sagactl migrate up` first') });
    } finally {
      await empty.drop();
    }
  });

  test('a role the server refuses: exit 4, AUTH', async () => {
    const url = new URL(t.url);
    url.username = 'sagactl_no_such_role';
    const r = await runMain(['saga', 'list', '--json'], { DATABASE_URL: url.toString() });
    expect(r.code).toBe(4);
    expect(jsonError(r.stderr)).toMatchObject({ code: 'AUTH', exitCode: 4 });
  });

  test('a saga that did not complete: exit 7, its whole JSON on stdout, and SAGA_NOT_COMPLETED', async () => {
    const r = await cli(['saga', 'run', '--user', 'user-123', '--item', 'item-out-of-stock', '--json']);
    expect(r.code).toBe(7);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'compensated', errorCode: 'INSUFFICIENT_STOCK' });
    expect(jsonError(r.stderr)).toMatchObject({ code: 'SAGA_NOT_COMPLETED', exitCode: 7,
      message: expect.stringMatching(/^saga \S+ ended compensated \(INSUFFICIENT_STOCK\)$/) });
  });

  test('a failing check: exit 6, the full report on stdout, and CHECK_FAILED in addition', async () => {
    await t.db.query(`INSERT INTO saga_states (transaction_id, status, user_id, item_id, quantity, price, mode, created_at, updated_at)
      VALUES ('conv-stuck', 'in_progress', 'user-123', 'item-potion', 1, 20.00, 'orchestration',
              timezone('UTC', now()) - interval '1 day', timezone('UTC', now()) - interval '1 day')`);
    try {
      const r = await cli(['db', 'check', '--json']);
      expect(r.code).toBe(6);
      const report = JSON.parse(r.stdout);
      expect(report.ok).toBe(false);
      expect(report.checks.length).toBeGreaterThan(5);
      expect(report.checks.find((c: { name: string }) => c.name === 'no_stuck_sagas')).toMatchObject({ ok: false, count: 1 });
      expect(jsonError(r.stderr)).toEqual({ code: 'CHECK_FAILED', exitCode: 6, message: expect.stringMatching(/^1 of \d+ checks fail: no_stuck_sagas$/), hint: null });
      const human = await cli(['db', 'check']);
      expect(human.code).toBe(6);
      expect(human.stdout).toMatch(/1 of \d+ checks fail: no_stuck_sagas\n$/);
      expect(human.stderr).not.toContain('{"error"');
    } finally {
      await t.db.query(`DELETE FROM saga_states WHERE transaction_id = 'conv-stuck'`);
    }
  });
});

describe('tables that fit', () => {
  const widest = (text: string) => Math.max(...text.trimEnd().split('\n').map((l) => [...l].length));

  test('COLUMNS=80: every line fits, ids whole, columns left out are named; -o wide shows everything', async () => {
    const narrow = await cli(['saga', 'list'], { COLUMNS: '80' });
    expect(narrow.code).toBe(0);
    expect(widest(narrow.stdout)).toBeLessThanOrEqual(80);
    expect(narrow.stdout).toContain('conv-1-0123456789abcdef0123456789');
    expect(narrow.stdout).toMatch(/^\(not shown: .*; -o wide shows all\)$/m);
    expect(narrow.stdout).not.toMatch(/[│┼]/);
    for (const flag of [['-o', 'wide'], ['--wide']]) {
      const wide = await cli(['saga', 'list', ...flag], { COLUMNS: '80' });
      expect(wide.stdout).toMatch(/^transaction id +status +mode +user +item +qty +total +error +created \(UTC\)$/m);
      expect(wide.stdout).toContain('INSUFFICIENT_STOCK');
      expect(widest(wide.stdout)).toBeGreaterThan(80);
    }
    const unbounded = await cli(['saga', 'list']); // a pipe without COLUMNS: nothing cut
    expect(unbounded.stdout).toContain('INSUFFICIENT_STOCK');
    expect(unbounded.stdout).not.toContain('…');
  });

  test('empty results say so instead of an empty frame', async () => {
    expect((await cli(['saga', 'list', '--user', 'nobody'])).stdout).toBe('no sagas match\n');
    expect((await cli(['saga', 'stuck'])).stdout).toBe('no stuck sagas\n');
    expect((await cli(['saga', 'recover', '--dry-run'])).stdout).toBe('no stuck sagas to recover\n');
  });

  test('the timeline says when each step ran', async () => {
    const r = await cli(['saga', 'show', 'conv-1-0123456789abcdef0123456789']);
    expect(r.stdout).toMatch(/^created \d{4}-\d\d-\d\dT[\d:.]+Z, completed \d{4}-.*Z$/m);
    expect(r.stdout).toMatch(/^step +kind +status +at \(UTC\) +ms +error +data$/m);
    expect(r.stdout).toMatch(/^validate_user +forward +succeeded +\d\d:\d\d:\d\d\.\d{3} /m);
  });
});

test('--quiet: no database line, no progress; the data is the same', async () => {
  const loud = await cli(['saga', 'list', '--json']);
  const quiet = await cli(['saga', 'list', '--json', '--quiet']);
  expect(loud.stderr).toContain('database:');
  expect(quiet.stderr).toBe('');
  expect(JSON.parse(quiet.stdout).sagas).toEqual(JSON.parse(loud.stdout).sagas);
  const failing = await cli(['saga', 'show', 'nope', '-q']);
  expect(failing.stderr).toBe('error: No saga with id "nope".\n'); // errors are still said
});

test('db health --watch takes a duration, one JSON document per round; Ctrl-C ends it with exit 0', async () => {
  const ctrlC = new AbortController();
  const running = runMain(['db', 'health', '--json', '--watch', '1m'], env, false, ctrlC.signal);
  await new Promise((r) => setTimeout(r, 1500));
  ctrlC.abort('SIGINT');
  const r = await running;
  expect(r.code).toBe(0);
  const docs = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
  expect(docs).toHaveLength(1);
  expect(docs[0].server.database).toBe(t.name);
});

describe('db health --output tells the truth when the database is down', () => {
  const down = { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x' };

  test('prometheus: sagactl_db_up 0 replaces the last report, atomically; still exit 4', async () => {
    const file = path.join(dir, 'sagactl.prom');
    expect((await cli(['db', 'health', '--format', 'prometheus', '--output', file])).code).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toContain('\nsagactl_db_up 1\n');
    const inode = fs.statSync(file).ino;
    const r = await runMain(['db', 'health', '--format', 'prometheus', '--output', file], down);
    expect(r.code).toBe(4);
    const text = fs.readFileSync(file, 'utf8');
    expect(text).toMatch(/^# HELP sagactl_db_up .*\n# TYPE sagactl_db_up gauge\nsagactl_db_up 0\n/);
    expect(text).toMatch(/\nsagactl_health_timestamp_seconds \d+(\.\d+)?\n$/);
    expect(fs.statSync(file).ino).not.toBe(inode); // renamed into place
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('json: "up": false with the error', async () => {
    const file = path.join(dir, 'health.json');
    const r = await runMain(['db', 'health', '--json', '--output', file], down);
    expect(r.code).toBe(4);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({ up: false, error: { code: 'UNREACHABLE', exitCode: 4 } });
    expect(jsonError(r.stderr)).toMatchObject({ code: 'UNREACHABLE' });
  });

  test('a bad --output is still refused before anything, and writes nothing', async () => {
    const r = await runMain(['db', 'health', '--output', path.join(dir, 'x.prom')], down);
    expect(r.code).toBe(2);
    expect(fs.existsSync(path.join(dir, 'x.prom'))).toBe(false);
  });
});

test('after a bulk load saga list estimates the count from fresh statistics', async () => {
  const big = await createTestDb();
  try {
    const seeded = await runMain(['seed', 'generate', '--sagas', '150000', '--days', '2', '--json'], { DATABASE_URL: big.url });
    expect(seeded.code).toBe(0);
    const page = JSON.parse((await runMain(['saga', 'list', '--limit', '1', '--json'], { DATABASE_URL: big.url })).stdout);
    expect(page.countIsEstimate).toBe(true);
    expect(Math.abs(page.count - 150_000) / 150_000).toBeLessThan(0.02);
  } finally {
    await big.drop();
  }
}, 120_000);

describe('bulk operator work goes one saga at a time, so progress and Ctrl-C count real sagas', () => {
  const abandon = (prefix: string, status: string, n: number) => t.db.query(
    `INSERT INTO saga_states (transaction_id, status, user_id, item_id, quantity, price, mode, created_at, updated_at)
     SELECT $1 || g, $2, 'user-123', 'item-potion', 1, 20.00, 'orchestration',
            timezone('UTC', now()) - interval '1 day', timezone('UTC', now()) - interval '1 day' FROM generate_series(1, $3::int) g`,
    [prefix, status, n]);
  const statuses = async (prefix: string) => (await t.db.query(
    `SELECT status, count(*)::int AS n FROM saga_states WHERE transaction_id LIKE $1 || '%' GROUP BY status ORDER BY status`, [prefix]));

  test('Ctrl-C before the first saga: recover stops, nothing changed, exit 130 and how to finish', async () => {
    await abandon('conv-rec-', 'pending', 3);
    const ctrlC = new AbortController();
    ctrlC.abort('SIGINT');
    const r = await runMain(['saga', 'recover', '--yes'], env, false, ctrlC.signal);
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('error: Interrupted by SIGINT. Stopped after 0 of 3 sagas (recovering).\n');
    expect(r.stderr).toContain('run `sagactl saga recover` again for the rest');
    expect(await statuses('conv-rec-')).toEqual([{ status: 'pending', n: 3 }]);
    const done = await cli(['saga', 'recover', '--yes', '--json']);
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ skipped: 0, refused: 0, results: [{ after: 'failed' }, { after: 'failed' }, { after: 'failed' }] });
    expect(await statuses('conv-rec-')).toEqual([{ status: 'failed', n: 3 }]);
  });

  test('compensate: a dry run prints the plan and writes nothing; an unknown id is refused (exit 3) while the others go on', async () => {
    await abandon('conv-dry-', 'in_progress', 1);
    const dry = await cli(['saga', 'compensate', 'conv-dry-1', 'no-such-saga', '--dry-run', '--json']);
    expect(dry.code).toBe(3);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, plans: [{ transactionId: 'conv-dry-1' }, { transactionId: 'no-such-saga' }] });
    expect(jsonError(dry.stderr)).toEqual({ code: 'NOT_FOUND', exitCode: 3, message: '1 of 2 saga(s) would be refused', hint: null });
    expect(await statuses('conv-dry-')).toEqual([{ status: 'in_progress', n: 1 }]);
    const real = await cli(['saga', 'compensate', 'conv-dry-1', 'no-such-saga', '--reason', 'INC-2', '--yes'], { COLUMNS: '120' });
    expect(real.code).toBe(3);
    expect(real.stdout).toMatch(/^conv-dry-1 +in_progress +compensated/m);
    expect(real.stdout).toMatch(/^no-such-saga +- +(not_found|refused)/m);
    expect(await statuses('conv-dry-')).toEqual([{ status: 'compensated', n: 1 }]);
  });

  test('compensate --stuck over several sagas: each one compensated and verified, a table of results', async () => {
    await abandon('conv-comp-', 'in_progress', 3);
    const ctrlC = new AbortController();
    ctrlC.abort('SIGINT');
    const stopped = await runMain(['saga', 'compensate', '--stuck', '--reason', 'INC-1: test', '--yes'], env, false, ctrlC.signal);
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toMatch(/error: Interrupted by SIGINT\. Stopped after 0 of \d+ sagas \(compensating\)\.\n/);
    expect(await statuses('conv-comp-')).toEqual([{ status: 'in_progress', n: 3 }]);
    const r = await cli(['saga', 'compensate', '--stuck', '--reason', 'INC-1: test', '--yes'], { COLUMNS: '100' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^conv-comp-1 +in_progress +compensated +yes$/m);
    expect(await statuses('conv-comp-')).toEqual([{ status: 'compensated', n: 3 }]);
  });
});

/** The built binary as a real process, so signals and the exit code are the real ones. */
function spawnBin(argv: string[], extra: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, ...argv], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', CI: '', ...env, ...extra } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done, stderr: () => stderr };
}

async function until(check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('Ctrl-C during work', () => {
  test('SIGINT: statements cancelled, exit 130, saying what was left and how far the load got', async () => {
    const before = await sagaCount();
    const run = spawnBin(['saga', 'load', '--count', '200000', '--concurrency', '2', '--user', 'user-123', '--item', 'item-potion']);
    await until(() => run.stderr().includes('database:'));
    await new Promise((r) => setTimeout(r, 1000));
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/error: Interrupted by SIGINT: .* Stopped after [\d,]+ of 200,000 sagas \(saga load\)\.\n/);
    expect(r.stderr).toContain('sagactl saga recover --yes');
    expect(await sagaCount()).toBeGreaterThan(before);
    expect(await sagaCount()).toBeLessThan(before + 200_000);
  }, 60_000);

  test('SIGTERM with --json: exit 143 and TERMINATED as the last line', async () => {
    const run = spawnBin(['saga', 'load', '--count', '200000', '--concurrency', '2', '--user', 'user-123', '--item', 'item-potion', '--json']);
    await until(() => run.stderr().includes('database:'));
    await new Promise((r) => setTimeout(r, 500));
    run.child.kill('SIGTERM');
    const r = await run.done;
    expect(r.code).toBe(143);
    expect(JSON.parse(r.stdout).count).toBe(200_000); // the load's summary is still printed
    expect(jsonError(r.stderr)).toMatchObject({ code: 'TERMINATED', exitCode: 143,
      message: expect.stringMatching(/^Interrupted by SIGTERM: .* Stopped after [\d,]+ of 200,000 sagas \(saga load\)\.$/) });
  }, 60_000);
});

test('Ctrl-C at a real prompt (a terminal made by script(1)): aborted, nothing changed, exit 130', async () => {
  const users = async () => (await t.db.query('SELECT count(*)::int AS n FROM users'))[0].n;
  const before = await users();
  const command = `${process.execPath} ${BIN} seed reset; echo "__EXIT=$?"`;
  const child = spawn('script', ['-qfc', command, '/dev/null'], { env: { ...process.env, ...env, NO_COLOR: '1', CI: '' } });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await until(() => out.includes('(y/N)'));
  child.stdin.write('\x03');
  await until(() => out.includes('__EXIT='));
  child.stdin.end();
  child.kill();
  expect(out).toContain('error: aborted at the prompt; nothing was changed.');
  expect(out).toMatch(/__EXIT=130/);
  expect(await users()).toBe(before);
}, 30_000);
