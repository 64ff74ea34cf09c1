import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { AppError, EXIT } from '../errors';

/** One finding of squawk's JSON reporter (lines and columns count from 0). */
export interface SquawkFinding {
  file: string;
  line: number;
  column: number;
  level: string;
  message: string;
  help: string | null;
  rule_name: string;
}

/**
 * squawk's own binary, from its platform package (what `squawk-cli` itself runs). We depend on the
 * platform package directly, as an optional dependency: the registry this project installs from
 * carries only linux-x64, and a lockfile naming `squawk-cli` (which lists every platform) then
 * fails `npm ci`.
 */
function binary(): string {
  const pkg = `@squawk-cli/${process.platform}-${process.arch}`;
  try {
    return require.resolve(`${pkg}/bin/${process.platform === 'win32' ? 'squawk.exe' : 'squawk'}`);
  } catch {
    throw new AppError(`The migration linter (squawk) is not installed for ${process.platform}-${process.arch} (${pkg}).`, EXIT.usage,
      `Install it: npm install --no-save ${pkg}@2.66.0 (or run the lint on linux-x64, as CI does).`);
  }
}

/**
 * Runs squawk over SQL texts (one per migration), in a folder of its own so that nothing of the
 * project's is read as squawk's configuration.
 */
export async function runSquawk(files: { name: string; text: string }[], exclude: string[]): Promise<SquawkFinding[]> {
  if (files.length === 0) return [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-lint-'));
  try {
    for (const f of files) fs.writeFileSync(path.join(dir, f.name), f.text);
    const args = ['--reporter', 'json', ...(exclude.length ? ['--exclude', exclude.join(',')] : []), ...files.map((f) => f.name)];
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(binary(), args, { cwd: dir, maxBuffer: 64 * 1024 * 1024 }, (err, out, errOut) => {
        // squawk exits 1 when it found something: that is its answer, not a failure.
        if (err && (err as { code?: unknown }).code !== 1) reject(new AppError(`squawk failed: ${errOut || err.message}`, EXIT.internal));
        else resolve(out);
      });
    });
    return stdout.trim() ? (JSON.parse(stdout) as SquawkFinding[]) : [];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
