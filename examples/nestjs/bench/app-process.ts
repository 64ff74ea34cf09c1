import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

/**
 * The built service (dist/src/main.js), started as its own process the way a deployment runs it;
 * found from the compiled bench (dist/bench) or from its source under jest (bench/).
 */
const DIST = path.basename(path.dirname(__dirname)) === 'dist' ? path.dirname(__dirname) : path.resolve(__dirname, '..', 'dist');
export const MAIN = path.join(DIST, 'src', 'main.js');

export interface AppProcess {
  url: string;
  pid: number;
  child: ChildProcess;
  /** Everything it printed, for a failing test's message. */
  output(): string;
  /** SIGKILL: no shutdown hook runs, sagas in flight stay as they are. Resolves once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`. Resolves with the exit code (null when killed). */
  stop(graceMs?: number): Promise<number | null>;
}

export interface StartOptions {
  databaseUrl: string;
  redisUrl?: string;
  instance: string;
  env?: Record<string, string>;
  /** How long to wait for "listening on" (default 30 s). */
  timeoutMs?: number;
}

/** Starts the service on a free loopback port and resolves once it accepts requests. */
export function startApp(opts: StartOptions): Promise<AppProcess> {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', HOST: '127.0.0.1', PORT: '0',
    DATABASE_URL: opts.databaseUrl, REDIS_URL: opts.redisUrl ?? '', INSTANCE_NAME: opts.instance, ...opts.env };
  for (const k of ['DB_HOST', 'DB_PORT', 'DB_USERNAME', 'DB_PASSWORD', 'DB_NAME']) delete env[k];
  const child = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const app: Omit<AppProcess, 'url'> = {
    pid: child.pid!,
    child,
    output: () => out,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${opts.instance} did not start within ${opts.timeoutMs ?? 30_000} ms:\n${out}`));
    }, opts.timeoutMs ?? 30_000);
    const onData = (d: Buffer) => {
      out += d;
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ ...app, url: m[1] });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${opts.instance} exited (${signal ?? code}) before listening:\n${out}`));
    });
  });
}
