import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnreachableError } from '../errors';

/**
 * True when a process with this pid runs on this host. A zombie (exited, not yet reaped: a
 * postmaster stopped or killed under a container's PID 1 that reaps late) still answers kill 0,
 * but is dead: its lock or its server is gone.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

function isZombie(pid: number): boolean {
  // Linux only; elsewhere the stat file is missing and kill 0 has the last word.
  const stat = readOr(`/proc/${pid}/stat`, '');
  return /^\d+ \(.*\) Z/s.test(stat);
}

/**
 * Runs `fn` while holding an exclusive lock file. The file holds the owner's pid, so a
 * lock left by a killed process is recognised as stale and taken over.
 */
export async function withFileLock<T>(file: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readOr(file, '0'));
      if (owner > 0 && !isAlive(owner)) {
        fs.rmSync(file, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new UnreachableError(`Timed out waiting for the lock ${file}, held by pid ${owner}.`);
      }
      await sleep(25 + Math.random() * 50);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(file, { force: true });
  }
}

export function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}
