import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors';
import { migrationsDir } from './loader';

/** Writes migrations/<timestamp>-<name>.ts with an empty up/down, and returns its path. */
export function createMigrationFile(name: string, dir = migrationsDir(), now = Date.now()): { name: string; file: string } {
  // Words joined by single dashes: "a--b" or "a-" would make an empty word of the class name.
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(name) || name.length > 81) {
    throw new UsageError(`A migration name is lower-case words of letters and digits joined by single dashes (up to 81 characters), got "${name}".`);
  }
  const base = `${now}-${name}`;
  const file = path.join(dir, `${base}.ts`);
  const className = name.split('-').map((w) => w[0].toUpperCase() + w.slice(1)).join('').replace(/^(\d)/, 'M$1') + now;
  fs.writeFileSync(file, `import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Why this migration exists. */
export class ${className} implements MigrationInterface {
  async up(q: QueryRunner): Promise<void> {
    await q.query('SELECT 1');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('SELECT 1');
  }
}
`, { flag: 'wx' });
  return { name: base, file };
}
