import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runBin, runMain } from '../support/cli';
import { isAlive } from '../../src/db/file-lock';

/** The embedded default, for real: a PostgreSQL from npm in a folder of its own. */
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-home-'));
const env = { SAGACTL_HOME: home };
afterAll(async () => {
  await runBin(['db', 'stop'], env);
  fs.rmSync(home, { recursive: true, force: true });
});

function serverPid(): number | undefined {
  try {
    return Number(fs.readFileSync(path.join(home, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
}

test('with nothing configured, commands run on the embedded server, started for the command and stopped after', async () => {
  const up = await runBin(['migrate', 'up'], env);
  expect(up.code).toBe(0);
  expect(up.stderr.split('\n')[0]).toBe(`database: embedded PostgreSQL in ${home} (embedded default)`);
  const pid = serverPid();
  expect(pid === undefined || !isAlive(pid)).toBe(true);
  const seeded = await runBin(['seed', 'fixtures', '--json'], env);
  expect(seeded.code).toBe(0);
  expect(JSON.parse(seeded.stdout).users.inserted).toBe(3);
  const run = await runBin(['saga', 'run', '--user', 'user-123', '--item', 'item-sword', '--json'], env);
  expect(run.code).toBe(0);
  expect(JSON.parse(run.stdout)).toMatchObject({ status: 'completed', total: '100.00' });
}, 120_000);

test('db start keeps it running and prints its URL; a wrong password exits 4 without printing it; db stop stops it', async () => {
  // In-process, so the embedded server's code counts in the coverage too.
  const started = await runMain(['db', 'start'], env);
  expect(started.code).toBe(0);
  const url = started.stdout.trim();
  expect(url).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/sagactl$/);
  expect(isAlive(serverPid()!)).toBe(true);
  const status = await runMain(['migrate', 'status', '--check'], env);
  expect(status.code).toBe(0);
  expect(isAlive(serverPid()!)).toBe(true);

  const wrong = new URL(url);
  wrong.password = 'not-the-password';
  const denied = await runMain(['migrate', 'status'], { DATABASE_URL: wrong.toString() });
  expect(denied.code).toBe(4);
  expect(denied.stderr).toContain('Authentication failed');
  expect(denied.stderr).not.toContain('not-the-password');
  expect(denied.stderr).not.toContain(new URL(url).password);

  const stopped = await runMain(['db', 'stop', '--json'], env);
  expect(JSON.parse(stopped.stdout)).toMatchObject({ stopped: true });
  expect(isAlive(serverPid() ?? 0) && serverPid() !== undefined).toBe(false);
  expect(JSON.parse((await runMain(['db', 'stop', '--json'], env)).stdout)).toMatchObject({ stopped: false });
}, 120_000);

test('in CI with nothing configured it refuses (exit 2); --embedded says yes explicitly', async () => {
  const refused = await runBin(['migrate', 'status'], { ...env, CI: 'true' });
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain('CI is set and no database is configured');
  const explicit = await runMain(['migrate', 'status', '--embedded', '--check'], { ...env, CI: 'true' });
  expect(explicit.code).toBe(0);
}, 120_000);

test('db start refuses a server URL', async () => {
  const r = await runMain(['db', 'start', '--database-url', 'postgres://x@127.0.0.1/y'], env);
  expect(r.code).toBe(2);
});

test('two commands at once share one server; the last one out stops it', async () => {
  const runs = await Promise.all([1, 2, 3].map(() => runMain(['migrate', 'status', '--json'], env)));
  expect(runs.map((r) => r.code)).toEqual([0, 0, 0]);
  const pid = serverPid();
  expect(pid === undefined || !isAlive(pid)).toBe(true);
  expect(fs.readdirSync(path.join(home, 'clients'))).toEqual([]);
}, 120_000);
