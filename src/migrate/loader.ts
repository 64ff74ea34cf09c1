import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { MigrationInterface } from 'typeorm';
import { packageRoot, runningCompiled } from '../paths';
import { AppError, EXIT } from '../errors';

export interface Migration {
  /** The file's base name, "<timestamp>-<title>": it orders the migrations and keys the history. */
  name: string;
  checksum: string;
  /** False for a migration that must run outside a transaction (CREATE INDEX CONCURRENTLY). */
  transactional: boolean;
  instance: MigrationInterface;
}

const FILE = /^(\d{13})-[a-z0-9][a-z0-9-]*\.ts$/;

export function migrationsDir(root = packageRoot()): string {
  return path.join(root, 'migrations');
}

/** SHA-256 of the source with line endings normalised, so a CRLF checkout is not a "change". */
export function checksumOf(source: string): string {
  return crypto.createHash('sha256').update(source.replace(/\r\n?/g, '\n')).digest('hex');
}

/**
 * The migrations, ordered by name, from migrations/*.ts; their code from the compiled build
 * (dist/migrations) when we run compiled, or from the sources under the test runner.
 */
export function loadMigrations(root = packageRoot()): Migration[] {
  const dir = migrationsDir(root);
  const files = fs.readdirSync(dir).filter((f) => FILE.test(f)).sort();
  return files.map((file) => {
    const name = file.slice(0, -3);
    const source = fs.readFileSync(path.join(dir, file), 'utf8');
    const code = runningCompiled() ? path.join(root, 'dist', 'migrations', `${name}.js`) : path.join(dir, file);
    if (!fs.existsSync(code)) {
      throw new AppError(`Migration ${name} is not compiled (${code} is missing).`, EXIT.usage, 'Run `npm run build` first.');
    }
    const exported = Object.values(require(code) as Record<string, unknown>);
    const Class = exported.find((v): v is new () => MigrationInterface => typeof v === 'function');
    if (!Class) throw new AppError(`Migration ${name} exports no class.`, EXIT.usage);
    const instance = new Class();
    const transactional = (instance as { transaction?: boolean }).transaction !== false;
    return { name, checksum: checksumOf(source), transactional, instance };
  });
}
