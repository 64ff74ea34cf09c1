import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checksumOf, loadMigrations, Migration, migrationsDir } from '../../src/migrate/loader';
import { createMigrationFile } from '../../src/migrate/create';
import { assertInOrder, compareHistory, selectPending, selectToRevert } from '../../src/migrate/runner';
import type { AppliedMigration } from '../../src/migrate/history';
import { AppError, CheckFailedError, NotFoundError, StateError, UsageError } from '../../src/errors';

let root: string;
let dir: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-migrations-'));
  dir = path.join(root, 'migrations');
  fs.mkdirSync(dir);
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

describe('checksums', () => {
  test('line endings do not count, anything else does', () => {
    expect(checksumOf('a\r\nb\r\n')).toBe(checksumOf('a\nb\n'));
    expect(checksumOf('a\rb\r')).toBe(checksumOf('a\nb\n'));
    expect(checksumOf('a\nb\n')).not.toBe(checksumOf('a\nb \n'));
    expect(checksumOf('a\nb\n')).not.toBe(checksumOf('a\nb'));
    expect(checksumOf('x')).toBe('2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881');
  });

  test('a CRLF checkout of the real migrations has the checksums of the LF one', () => {
    for (const m of loadMigrations()) {
      const lf = fs.readFileSync(path.join(migrationsDir(), `${m.name}.ts`), 'utf8');
      expect(lf).not.toContain('\r');
      expect(checksumOf(lf.replace(/\n/g, '\r\n'))).toBe(m.checksum);
    }
  });
});

describe('the loader', () => {
  test("the project's migrations, in order: the design's tables, then its indexes outside a transaction", () => {
    const all = loadMigrations();
    expect(all.slice(0, 2).map((m) => [m.name, m.transactional])).toEqual([
      ['1764000000000-create-tables', true],
      ['1764000000100-design-indexes', false],
    ]);
    expect(all.map((m) => m.name)).toEqual(fs.readdirSync(migrationsDir()).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3)).sort());
  });

  test('files are ordered by name and anything not named <13 digits>-<name>.ts is ignored', () => {
    const body = (cls: string, extra = '') => `export class ${cls} { ${extra} async up() {} async down() {} }\n`;
    fs.writeFileSync(path.join(dir, '1800000000200-second.ts'), body('Second', 'transaction = false;'));
    fs.writeFileSync(path.join(dir, '1800000000100-first.ts'), body('First'));
    fs.writeFileSync(path.join(dir, 'README.md'), '# not a migration');
    fs.writeFileSync(path.join(dir, '180000000010-short.ts'), body('Short'));
    fs.writeFileSync(path.join(dir, '1800000000300-Upper.ts'), body('Upper'));
    const loaded = loadMigrations(root);
    expect(loaded.map((m) => m.name)).toEqual(['1800000000100-first', '1800000000200-second']);
    expect(loaded.map((m) => m.transactional)).toEqual([true, false]);
    expect(loaded.map((m) => [m.className, m.file, m.compiledChecksum])).toEqual([['First', 'migrations/1800000000100-first.ts', null],
      ['Second', 'migrations/1800000000200-second.ts', null]]);
    expect(loaded[0].checksum).toBe(checksumOf(body('First')));
  });

  test('a migration file that exports no class is a usage error naming it', () => {
    fs.writeFileSync(path.join(dir, '1800000000100-empty.ts'), 'export const nothing = 1;\n');
    let err: unknown;
    try { loadMigrations(root); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).exitCode).toBe(2);
    expect((err as AppError).message).toBe('Migration 1800000000100-empty exports no class.');
  });
});

describe('migrate create', () => {
  test('writes a timestamped migration that the loader picks up', () => {
    const created = createMigrationFile('add-user-email', dir, 1800000000000);
    expect(created).toEqual({ name: '1800000000000-add-user-email', file: path.join(dir, '1800000000000-add-user-email.ts') });
    expect(fs.readFileSync(created.file, 'utf8')).toContain('export class AddUserEmail1800000000000 implements MigrationInterface');
    const [loaded] = loadMigrations(root);
    expect(loaded).toMatchObject({ name: created.name, transactional: true, checksum: checksumOf(fs.readFileSync(created.file, 'utf8')) });
    expect(typeof loaded.instance.up).toBe('function');
  });

  test('a name starting with a digit still makes a valid class name; the longest name is 81 characters', () => {
    const digit = createMigrationFile('9-lives', dir, 1800000000001);
    expect(fs.readFileSync(digit.file, 'utf8')).toContain('export class M9Lives1800000000001 ');
    createMigrationFile('x'.repeat(81), dir, 1800000000002);
    expect(loadMigrations(root).map((m) => m.name)).toEqual(['1800000000001-9-lives', `1800000000002-${'x'.repeat(81)}`]);
  });

  test('an existing file is never overwritten', () => {
    const created = createMigrationFile('once', dir, 1800000000000);
    fs.appendFileSync(created.file, '// mine\n');
    expect(() => createMigrationFile('once', dir, 1800000000000)).toThrow(/EEXIST/);
    expect(fs.readFileSync(created.file, 'utf8')).toContain('// mine');
  });

  test.each(['Bad Name', 'a--b', 'a-', '-a', 'Add', 'a_b', '', 'x'.repeat(82), 'ümlaut', '../escape', 'a.ts'])(
    '%j is a usage error and writes nothing', (name) => {
      expect(() => createMigrationFile(name, dir, 1800000000000)).toThrow(UsageError);
      expect(fs.readdirSync(dir)).toEqual([]);
    });
});

describe('choosing what to apply and revert', () => {
  const m = (name: string): Migration => ({ name, checksum: `sum-${name}`, compiledChecksum: null, className: `C${name}`, transactional: true,
    file: `migrations/${name}.ts`, sourcePath: `/x/${name}.ts`, codeFile: `/x/${name}.ts`, instance: {} as Migration['instance'] });
  const h = (name: string, checksum = `sum-${name}`): AppliedMigration =>
    ({ name, checksum, compiledChecksum: null, appliedAt: new Date(0), durationMs: 1, appliedBy: 'me', host: 'here', applicationName: 'x', baselinedFrom: null });
  const files = [m('1-a'), m('2-b'), m('3-c')];

  test('compareHistory sorts into applied, pending, changed and missing', () => {
    const status = compareHistory([h('1-a'), h('2-b', 'other'), h('0-gone')], files);
    expect(status.applied.map((a) => a.name)).toEqual(['1-a', '2-b', '0-gone']);
    expect(status.pending).toEqual([{ name: '3-c' }]);
    expect(status.changed).toEqual([{ name: '2-b', recorded: 'other', current: 'sum-2-b' }]);
    expect(status.missing).toEqual([{ name: '0-gone' }]);
    expect(status.outOfOrder).toEqual([]);
  });

  test('out of order: pending older than the newest applied, refused by assertInOrder unless allowed', () => {
    const status = compareHistory([h('1-a'), h('3-c')], files);
    expect(status.outOfOrder).toEqual([{ name: '2-b' }]);
    expect(() => assertInOrder(status, [files[1]])).toThrow(CheckFailedError);
    expect(() => assertInOrder(status, [files[1]])).toThrow('Out of order: 2-b is older than 3-c, which is already applied. Nothing was applied.');
    expect(() => assertInOrder(status, [files[1]], true)).not.toThrow();
    expect(() => assertInOrder(compareHistory([h('1-a')], files), files.slice(1))).not.toThrow();
  });

  test('up: every pending one, or up to --to; an unknown --to is a usage error', () => {
    const status = compareHistory([h('1-a')], files);
    expect(selectPending(status, files).map((x) => x.name)).toEqual(['2-b', '3-c']);
    expect(selectPending(status, files, '2-b').map((x) => x.name)).toEqual(['2-b']);
    expect(selectPending(status, files, '1-a')).toEqual([]);
    expect(() => selectPending(status, files, '9-nope')).toThrow(new UsageError('--to names no migration: "9-nope".'));
  });

  test('down: newest first, one by default, --count, --to NAME, --to 0', () => {
    const status = compareHistory([h('1-a'), h('2-b'), h('3-c')], files);
    const names = (o: { count?: number; to?: string }) => selectToRevert(status, files, o).map((x) => x.name);
    expect(names({})).toEqual(['3-c']);
    expect(names({ count: 2 })).toEqual(['3-c', '2-b']);
    expect(names({ to: '1-a' })).toEqual(['3-c', '2-b']);
    expect(names({ to: '3-c' })).toEqual([]);
    expect(names({ to: '0' })).toEqual(['3-c', '2-b', '1-a']);
  });

  test('down: more than applied is an illegal state (3), an unknown --to a usage error (2), a missing file not found (3)', () => {
    const status = compareHistory([h('1-a')], files);
    expect(() => selectToRevert(status, files, { count: 2 })).toThrow(StateError);
    expect(() => selectToRevert(status, files, { count: 2 })).toThrow('Cannot revert 2 migration(s): 1 applied.');
    expect(() => selectToRevert(status, files, { to: '2-b' })).toThrow(UsageError);
    const gone = compareHistory([h('1-a'), h('4-gone')], files);
    expect(() => selectToRevert(gone, files, {})).toThrow(NotFoundError);
    expect(selectToRevert(compareHistory([], files), files, { to: '0' })).toEqual([]);
  });
});
