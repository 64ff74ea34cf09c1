import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { isAlive, readOr, withFileLock } from '../../src/db/file-lock';
import { UnreachableError } from '../../src/errors';

let dir: string;
let lock: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-lock-'));
  lock = path.join(dir, 'lock');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('isAlive', () => {
  test('this process yes, an exited one no', () => {
    expect(isAlive(process.pid)).toBe(true);
    expect(isAlive(deadPid())).toBe(false);
  });

  (process.platform === 'linux' ? test : test.skip)('a zombie (exited, never reaped) is dead', async () => {
    // `sleep 0` exits at once; its parent became `sleep 5`, which never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const zombie = Number(String(await new Promise((r) => parent.stdout.once('data', r))).trim());
      for (let i = 0; i < 100 && !/\) Z/.test(readOr(`/proc/${zombie}/stat`, '')); i++) await sleep(10);
      expect(readOr(`/proc/${zombie}/stat`, '')).toMatch(/^\d+ \(sleep\) Z/);
      expect(isAlive(zombie)).toBe(false);
      expect(isAlive(parent.pid!)).toBe(true);
    } finally {
      parent.kill();
    }
  });
});

describe('withFileLock', () => {
  test('holds the file with its pid while fn runs, removes it after, returns what fn returns', async () => {
    const result = await withFileLock(lock, 1000, async () => {
      expect(fs.readFileSync(lock, 'utf8')).toBe(String(process.pid));
      return 42;
    });
    expect(result).toBe(42);
    expect(fs.existsSync(lock)).toBe(false);
  });

  test('removes the file when fn throws, and passes the error on', async () => {
    await expect(withFileLock(lock, 1000, async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(fs.existsSync(lock)).toBe(false);
  });

  test('two holders never overlap', async () => {
    const events: string[] = [];
    const worker = (name: string) => withFileLock(lock, 5000, async () => {
      events.push(`${name} in`);
      await sleep(50);
      events.push(`${name} out`);
    });
    await Promise.all([worker('a'), worker('b'), worker('c')]);
    for (let i = 0; i < events.length; i += 2) {
      expect(events[i].split(' ')[0]).toBe(events[i + 1].split(' ')[0]);
      expect([events[i].split(' ')[1], events[i + 1].split(' ')[1]]).toEqual(['in', 'out']);
    }
    expect(events).toHaveLength(6);
  });

  test('a lock left by a dead process is taken over at once', async () => {
    fs.writeFileSync(lock, String(deadPid()));
    const started = Date.now();
    expect(await withFileLock(lock, 60_000, async () => fs.readFileSync(lock, 'utf8'))).toBe(String(process.pid));
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test('a live holder makes it time out with exit 4 naming the holder, and its lock stays', async () => {
    const holder = spawn('sleep', ['30']);
    try {
      fs.writeFileSync(lock, String(holder.pid));
      const run = jest.fn(async () => undefined);
      const err = await withFileLock(lock, 200, run).catch((e) => e);
      expect(err).toBeInstanceOf(UnreachableError);
      expect(err.exitCode).toBe(4);
      expect(err.message).toBe(`Timed out waiting for the lock ${lock}, held by pid ${holder.pid}.`);
      expect(run).not.toHaveBeenCalled();
      expect(fs.readFileSync(lock, 'utf8')).toBe(String(holder.pid));
    } finally {
      holder.kill();
    }
  });

  test('a folder that does not exist is an error, not a wait', async () => {
    await expect(withFileLock(path.join(dir, 'no', 'lock'), 60_000, async () => 1)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

test('readOr', () => {
  fs.writeFileSync(path.join(dir, 'f'), 'text');
  expect(readOr(path.join(dir, 'f'), 'x')).toBe('text');
  expect(readOr(path.join(dir, 'missing'), 'x')).toBe('x');
});
