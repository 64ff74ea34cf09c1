import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDb, TestDb } from '../support/database';
import { ROOT, runBin, runMain } from '../support/cli';
import { scratchProject } from '../support/migrations';
import { loadMigrations } from '../../src/migrate/loader';
import { lintMigrations, loadLintConfig } from '../../src/migrate/lint';
import { buildPlan } from '../../src/migrate/plan';
import { runUp } from '../../src/migrate/runner';
import { writeBuildManifest } from '../../src/migrate/build';
import { AppError, UsageError } from '../../src/errors';

const names = loadMigrations().map((m) => m.name);

let t: TestDb;
beforeEach(async () => { t = await createTestDb({ empty: true }); });
afterEach(async () => { await t.drop(); });

const cli = (...argv: string[]) => runMain(argv, { DATABASE_URL: t.url });

describe('our own migrations', () => {
  test('pass the lint, their exceptions visible with reasons: --all needs no database', async () => {
    const r = await runMain(['migrate', 'lint', '--all'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`${names.length} migration\\(s\\) linted: 0 violation\\(s\\), \\d+ allowed by exception`));
    expect(r.stdout).toContain('migrations/1764000000000-create-tables.ts:54: prefer-identity allowed in 1764000000000-create-tables (migrations/lint.json): ');
    const json = JSON.parse((await runMain(['migrate', 'lint', '--all', '--format', 'json'], {})).stdout);
    expect(json).toMatchObject({ ok: true, migrations: names, violations: [], incomplete: [] });
    expect(json.excludedRules.every((e: { reason: string }) => e.reason.length > 20)).toBe(true);
    expect(json.allowed.every((a: { reason: string }) => a.reason.length > 20)).toBe(true);
    const github = await runMain(['migrate', 'lint', '--all', '--format', 'github'], {});
    expect(github.stdout).toContain('::notice file=migrations/1764000000000-create-tables.ts,line=54::prefer-identity allowed');
  });

  test('without --all: the pending ones, from the database', async () => {
    expect(JSON.parse((await cli('migrate', 'lint', '--json')).stdout).migrations).toEqual(names);
    expect((await cli('migrate', 'up', '--lint')).code).toBe(0);
    const none = await cli('migrate', 'lint');
    expect(none.code).toBe(0);
    expect(none.stdout).toContain('0 migration(s) linted: 0 violation(s)');
  });

  test('bad --format, or --json against --format: exit 2 before anything runs', async () => {
    for (const argv of [['migrate', 'lint', '--format', 'yaml'], ['migrate', 'lint', '--all', '--format', 'yaml'],
      ['migrate', 'lint', '--all', '--json', '--format', 'github'], ['migrate', 'lint', '--format']]) {
      const r = await cli(...argv);
      expect([argv, r.code]).toEqual([argv, 2]);
      expect(r.stderr).toMatch(/--format must be one of text, json, github|disagree|argument missing/);
    }
    expect(await t.db.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)).toEqual([]);
  });
});

describe('a dangerous migration', () => {
  const project = () => scratchProject({
    '1800000000100-items': { up: `await q.query('CREATE TABLE items (id int PRIMARY KEY, name text)');` },
    '1800000000200-items-by-name': {
      up: `await q.query(\`CREATE INDEX items_name
      ON items (name)\`);
    await q.query('ALTER TABLE items ADD COLUMN sku text NOT NULL');`,
    },
  });

  test('is reported with migration, statement, rule and source line; up --lint applies nothing', async () => {
    const p = project();
    try {
      const report = await lintMigrations(p.migrations, ROOT);
      expect(report.ok).toBe(false);
      const found = report.violations.map((v) => [v.migration, v.statement, v.rule, v.file, v.line]);
      expect(found).toEqual(expect.arrayContaining([
        ['1800000000200-items-by-name', 1, 'require-concurrent-index-creation', 'migrations/1800000000200-items-by-name.ts', 4],
        ['1800000000200-items-by-name', 2, 'adding-required-field', 'migrations/1800000000200-items-by-name.ts', 6],
      ]));
      expect(report.violations.find((v) => v.rule === 'require-concurrent-index-creation')!.sql).toBe('CREATE INDEX items_name\n      ON items (name)');
      // A new table's own statements are fine: the first migration has nothing.
      expect(report.violations.filter((v) => v.migration === '1800000000100-items')).toEqual([]);

      const deps = { db: t.db, migrations: p.migrations, lockTimeoutMs: 5000, log: () => undefined };
      await runUp(deps, { to: '1800000000100-items' });
      const err = await runUp(deps, { lint: true }).catch((e) => e);
      expect(err).toBeInstanceOf(AppError);
      expect(err.exitCode).toBe(6);
      expect(err.message).toContain('The lint failed, so nothing was applied:');
      expect(err.message).toContain('migrations/1800000000200-items-by-name.ts:4: 1800000000200-items-by-name, statement 1 (line 1 of it): require-concurrent-index-creation');
      expect(await t.db.query(`SELECT to_regclass('items_name') AS i`)).toEqual([{ i: null }]);
      expect(await t.db.query('SELECT name FROM sagactl_migrations')).toEqual([{ name: '1800000000100-items' }]);
    } finally {
      p.remove();
    }
  });

  test('an exception in lint.json, with its reason, allows one rule for one migration', async () => {
    const p = project();
    try {
      fs.writeFileSync(path.join(p.root, 'migrations', 'lint.json'), JSON.stringify({
        exceptions: [{ migration: '1800000000200-items-by-name', rule: 'require-concurrent-index-creation', reason: 'items is empty when this runs' }],
      }));
      const report = await lintMigrations(p.migrations, p.root);
      expect(report.allowed.map((a) => [a.rule, a.reason])).toEqual([['require-concurrent-index-creation', 'items is empty when this runs']]);
      expect(report.violations.map((v) => v.rule)).toContain('adding-required-field');
    } finally {
      p.remove();
    }
  });

  test('through the built CLI of a project copy: exit 6, and GitHub annotations at file and line', async () => {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-copy-'));
    try {
      for (const dir of ['bin', 'dist', 'migrations']) fs.cpSync(path.join(ROOT, dir), path.join(copy, dir), { recursive: true });
      fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(copy, 'package.json'));
      fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
      const name = '1900000000000-users-by-name';
      fs.writeFileSync(path.join(copy, 'migrations', `${name}.ts`),
        `export class UsersByName1900000000000 {\n  async up(q: any) {\n    await q.query('CREATE INDEX users_name ON users (name)');\n  }\n  async down(q: any) {}\n}\n`);
      fs.writeFileSync(path.join(copy, 'dist', 'migrations', `${name}.js`),
        `"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\nclass UsersByName1900000000000 {\n  async up(q) {\n    await q.query('CREATE INDEX users_name ON users (name)');\n  }\n  async down(q) {}\n}\nexports.UsersByName1900000000000 = UsersByName1900000000000;\n`);
      writeBuildManifest(copy);
      const r = await runBin(['migrate', 'lint', '--all', '--format', 'github'], {}, copy);
      expect(r.code).toBe(6);
      // Compiled code without a source map: the annotation points at the migration's file.
      expect(r.stdout).toMatch(new RegExp(`^::error file=migrations/${name}\\.ts,title=squawk require-concurrent-index-creation in ${name}::During normal index creation`, 'm'));
      const up = await runBin(['migrate', 'up', '--lint'], { DATABASE_URL: t.url }, copy);
      expect(up.code).toBe(6);
      expect(await t.db.query(`SELECT to_regclass('sagactl_migrations') AS h`)).toEqual([{ h: null }]);
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });
});

test('SQL that does not parse: plan and lint name the file and line (exit 6), nothing runs', async () => {
  const p = scratchProject({ '1800000000100-broken': { up: `await q.query('SELECT 1');\n    await q.query('CREATE TABLEE oops (id int)');` } });
  try {
    const err = await buildPlan(t.db, p.migrations).catch((e) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err.exitCode).toBe(6);
    expect(err.message).toMatch(/^SQL that does not parse: migrations\/1800000000100-broken\.ts:5 \(1800000000100-broken, statement 2, line 1 of it: /);
    const report = await lintMigrations(p.migrations, ROOT);
    expect(report.violations.map((v) => [v.rule, v.line])).toContainEqual(['syntax-error', 5]);
    expect(await t.db.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`)).toEqual([{ n: 0 }]);
  } finally {
    p.remove();
  }
});

test('a migration that reads the database to decide is linted as far as it can be, and says so', async () => {
  const p = scratchProject({ '1800000000100-reads': { up: `const rows = await q.query('SELECT 1 AS n');\n    await q.query(\`CREATE TABLE t\${rows[0].n} (id int)\`);` } });
  try {
    const report = await lintMigrations(p.migrations, ROOT);
    expect(report.incomplete).toEqual([{ migration: '1800000000100-reads', reason: expect.stringContaining('Cannot read properties of undefined') }]);
    const plan = await buildPlan(t.db, p.migrations);
    expect(plan[1].incomplete).toContain('Cannot read properties');
  } finally {
    p.remove();
  }
});

test('lint.json that is not JSON, or an entry without a reason, or excepting a parse error: exit 2 naming the file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-lintcfg-'));
  fs.mkdirSync(path.join(dir, 'migrations'));
  const write = (text: string) => fs.writeFileSync(path.join(dir, 'migrations', 'lint.json'), text);
  try {
    expect(loadLintConfig(dir)).toEqual({ excludeRules: [], exceptions: [] });
    for (const bad of ['{', JSON.stringify({ excludeRules: [{ rule: 'x' }] }), JSON.stringify({ exceptions: [{ rule: 'x', reason: 'y' }] }),
      JSON.stringify({ excludeRules: [{ rule: 'x', reason: '  ' }] }), JSON.stringify({ excludeRules: [{ rule: 'syntax-error', reason: 'no' }] })]) {
      write(bad);
      expect(() => loadLintConfig(dir)).toThrow(UsageError);
      expect(() => loadLintConfig(dir)).toThrow(/migrations\/lint\.json/);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
