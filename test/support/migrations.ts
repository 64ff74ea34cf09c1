import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadMigrations, Migration } from '../../src/migrate/loader';

/**
 * A project of its own with the given migrations (file base name -> body of `up`), loaded from
 * source: for tests of the runner that need a migration the real project does not have.
 */
export function scratchProject(files: Record<string, { up: string; down?: string; transaction?: boolean }>): { root: string; migrations: Migration[]; remove(): void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-project-'));
  fs.mkdirSync(path.join(root, 'migrations'));
  let i = 0;
  for (const [name, m] of Object.entries(files)) {
    fs.writeFileSync(path.join(root, 'migrations', `${name}.ts`), `export class M${i++} {
  ${m.transaction === false ? 'transaction = false;' : ''}
  async up(q: any) {
${m.up}
  }
  async down(q: any) {
${m.down ?? ''}
  }
}
`);
  }
  return { root, migrations: loadMigrations(root), remove: () => fs.rmSync(root, { recursive: true, force: true }) };
}
