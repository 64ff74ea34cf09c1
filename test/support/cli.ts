import { spawn } from 'node:child_process';
import path from 'node:path';
import { main } from '../../src/main';
import type { Io } from '../../src/cli/io';

export const ROOT = path.resolve(__dirname, '..', '..');
export const BIN = path.join(ROOT, 'bin', 'sagactl');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI in-process through main(argv, io): fast, and counted by coverage. `signal` stands for Ctrl-C (abort it with 'SIGINT'). */
export async function runMain(argv: string[], env: Record<string, string | undefined> = {}, tty = false, signal?: AbortSignal): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: { ...env },
    cwd: ROOT,
    stdinIsTTY: tty,
    stdoutIsTTY: false,
    stderrIsTTY: false,
    signal,
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

/** The built binary of the checkout in `cwd` as a subprocess, as a user or CI runs it (needs `npm run build`). */
export function runBin(argv: string[], env: Record<string, string | undefined> = {}, cwd = ROOT): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const clean = { ...process.env };
    for (const k of ['DATABASE_URL', 'DB_HOST', 'DB_PORT', 'DB_USERNAME', 'DB_PASSWORD', 'DB_NAME', 'PGHOST', 'PGPORT',
      'PGUSER', 'PGPASSWORD', 'PGDATABASE', 'CI', 'REDIS_URL']) delete clean[k];
    const child = spawn(process.execPath, [path.join(cwd, 'bin', 'sagactl'), ...argv], { cwd, env: { ...clean, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
