import fs from 'node:fs';
import path from 'node:path';
import type { MigrationInterface } from 'typeorm';
import { packageRoot, runningCompiled } from '../paths';
import { AppError, EXIT } from '../errors';
import { assertBuildCurrent, checksumOf, compiledPath, sourceFiles } from './build';

export { checksumOf } from './build';

export interface Migration {
  /** The file's base name, "<timestamp>-<title>": it orders the migrations and keys the history. */
  name: string;
  /** Checksum of the source (migrations/NAME.ts), the one recorded when it ran. */
  checksum: string;
  /** Checksum of the compiled file that runs, or null when the source itself runs (tests). */
  compiledChecksum: string | null;
  /** The class name: how TypeORM's own runner records it in its `migrations` table. */
  className: string;
  /** False for a migration that must run outside a transaction (CREATE INDEX CONCURRENTLY). */
  transactional: boolean;
  /** The source, relative to the package root (where lint and plan point), and its full path. */
  file: string;
  sourcePath: string;
  /** The file whose code runs. */
  codeFile: string;
  instance: MigrationInterface;
}

export function migrationsDir(root = packageRoot()): string {
  return path.join(root, 'migrations');
}

export interface LoadOptions {
  /** Run the compiled dist/migrations (default: when sagactl itself runs compiled). */
  compiled?: boolean;
}

/**
 * The migrations, ordered by name, from migrations/*.ts; their code from the compiled build
 * (dist/migrations) when we run compiled, or from the sources under the test runner. A compiled
 * build that is not the build of the current sources is refused (exit 6) before anything runs.
 */
export function loadMigrations(root = packageRoot(), opts: LoadOptions = {}): Migration[] {
  const compiled = opts.compiled ?? runningCompiled();
  if (compiled) assertBuildCurrent(root);
  return sourceFiles(root).map((file) => {
    const name = file.slice(0, -3);
    const source = fs.readFileSync(path.join(migrationsDir(root), file), 'utf8');
    const codeFile = compiled ? compiledPath(root, name) : path.join(migrationsDir(root), file);
    const exported = Object.values(require(codeFile) as Record<string, unknown>);
    const Class = exported.find((v): v is new () => MigrationInterface => typeof v === 'function');
    if (!Class) throw new AppError(`Migration ${name} exports no class.`, EXIT.usage);
    const instance = new Class();
    return {
      name,
      checksum: checksumOf(source),
      compiledChecksum: compiled ? checksumOf(fs.readFileSync(codeFile, 'utf8')) : null,
      className: Class.name,
      transactional: (instance as { transaction?: boolean }).transaction !== false,
      file: path.join('migrations', file),
      sourcePath: path.join(migrationsDir(root), file),
      codeFile,
      instance,
    };
  });
}
