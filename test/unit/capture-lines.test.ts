import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { transformSync } from '@swc/core';
import { writeBuildManifest } from '../../src/migrate/build';
import { loadMigrations } from '../../src/migrate/loader';
import { captureStatements } from '../../src/migrate/capture';

// `migrate plan` and `migrate lint` name the source line of each statement a migration sends. The
// line comes from the running code's stack; for a compiled build, through its source map back to
// the .ts a person edits, and never a guess when there is no map.

const SOURCE = `export class Accounts1800000000100 {
  async up(q: any): Promise<void> {
    await q.query('CREATE TABLE accounts (id int PRIMARY KEY)');

    await q.query('INSERT INTO accounts VALUES ($1)', [1]);
    await q.query('SELECT 1', []);
  }
  async down(q: any): Promise<void> {
    await q.query('DROP TABLE accounts');
    throw 'a string, not an Error';
  }
}
`;

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-capture-'));
  fs.mkdirSync(path.join(root, 'migrations'));
  fs.mkdirSync(path.join(root, 'dist', 'migrations'), { recursive: true });
  fs.writeFileSync(path.join(root, 'migrations', '1800000000100-accounts.ts'), SOURCE);
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** Compiles the migration as the build does (CommonJS), without a source map beside it. */
function buildWithoutMap(): void {
  const out = transformSync(SOURCE, {
    filename: path.join(root, 'migrations', '1800000000100-accounts.ts'),
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  // Padding shifts every compiled line, so a line of the .js itself could never pass for the source's.
  fs.writeFileSync(path.join(root, 'dist', 'migrations', '1800000000100-accounts.js'), `"use strict";\n\n\n\n\n${out.code.replace(/^"use strict";\n/, '')}\n`);
  writeBuildManifest(root);
}

// (Through a source map, the lines are checked by test/unit/migrate-build.test.ts on the real
// build, run by node itself: under jest the stack of a compiled file is mapped by jest already.)

test('from the source: each statement with its line and its parameters (only when it has some)', async () => {
  const [m] = loadMigrations(root, { compiled: false });
  expect(await captureStatements(m, 'up')).toEqual({ statements: [
    { sql: 'CREATE TABLE accounts (id int PRIMARY KEY)', line: 3 },
    { sql: 'INSERT INTO accounts VALUES ($1)', params: [1], line: 5 },
    { sql: 'SELECT 1', line: 6 },
  ] });
});

test('a migration that throws something other than an Error while recorded: what it sent, and what it threw, as text', async () => {
  const [m] = loadMigrations(root, { compiled: false });
  expect(await captureStatements(m, 'down')).toEqual({ statements: [{ sql: 'DROP TABLE accounts', line: 9 }], incomplete: 'a string, not an Error' });
});

test('from a compiled build without source maps: no line is claimed rather than a line of the wrong file', async () => {
  buildWithoutMap();
  const [compiled] = loadMigrations(root, { compiled: true });
  const { statements } = await captureStatements(compiled, 'up');
  expect(statements.map((s) => s.sql)).toEqual(['CREATE TABLE accounts (id int PRIMARY KEY)', 'INSERT INTO accounts VALUES ($1)', 'SELECT 1']);
  expect(statements.every((s) => s.line === undefined)).toBe(true);
  // Asked again (what was found about the map is kept), the same answer.
  expect((await captureStatements(compiled, 'up')).statements).toEqual(statements);
});
