import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { assertBuildCurrent, checksumOf, findStaleBuild, MANIFEST, writeBuildManifest } from '../../src/migrate/build';
import { loadMigrations } from '../../src/migrate/loader';
import { captureStatements } from '../../src/migrate/capture';
import { CheckFailedError } from '../../src/errors';
import { ROOT } from '../support/cli';

let root: string;
const src = (name: string, body: string) => fs.writeFileSync(path.join(root, 'migrations', `${name}.ts`), body);
const js = (name: string, body: string) => fs.writeFileSync(path.join(root, 'dist', 'migrations', `${name}.js`), body);
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-build-'));
  fs.mkdirSync(path.join(root, 'migrations'));
  fs.mkdirSync(path.join(root, 'dist', 'migrations'), { recursive: true });
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const CLASS_JS = (cls: string) => `"use strict";\nclass ${cls} { async up() {} async down() {} }\nexports.${cls} = ${cls};\n`;

test('a build made by npm run build is current; each way of going stale is named', () => {
  src('1800000000100-a', 'export class A {}\n');
  src('1800000000200-b', 'export class B {}\n');
  js('1800000000100-a', CLASS_JS('A'));
  js('1800000000200-b', CLASS_JS('B'));
  expect(findStaleBuild(root)).toEqual([
    { name: '1800000000100-a', reason: `no ${MANIFEST} (built without \`npm run build\`)` },
    { name: '1800000000200-b', reason: `no ${MANIFEST} (built without \`npm run build\`)` },
  ]);
  expect(writeBuildManifest(root)['1800000000100-a']).toEqual({ source: checksumOf('export class A {}\n'), compiled: checksumOf(CLASS_JS('A')) });
  expect(findStaleBuild(root)).toEqual([]);
  expect(() => assertBuildCurrent(root)).not.toThrow();

  src('1800000000100-a', 'export class A { x = 1; }\n');
  js('1800000000200-b', CLASS_JS('B') + '// edited by hand\n');
  src('1800000000300-c', 'export class C {}\n');
  expect(findStaleBuild(root)).toEqual([
    { name: '1800000000100-a', reason: 'source changed since the build' },
    { name: '1800000000200-b', reason: 'compiled file changed since the build' },
    { name: '1800000000300-c', reason: 'not compiled' },
  ]);
  js('1800000000300-c', CLASS_JS('C'));
  expect(findStaleBuild(root)[2]).toEqual({ name: '1800000000300-c', reason: 'compiled without `npm run build`' });
  let err: unknown;
  try { assertBuildCurrent(root); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(CheckFailedError);
  expect((err as CheckFailedError).exitCode).toBe(6);
  expect((err as CheckFailedError).hint).toBe('Run `npm run build`, then the command again.');
  // The loader refuses a stale build before running anything of it, and loads a current one.
  expect(() => loadMigrations(root, { compiled: true })).toThrow(CheckFailedError);
  writeBuildManifest(root);
  expect(loadMigrations(root, { compiled: true }).map((m) => [m.className, m.compiledChecksum])).toEqual([
    ['A', checksumOf(CLASS_JS('A'))], ['B', checksumOf(`${CLASS_JS('B')}// edited by hand\n`)], ['C', checksumOf(CLASS_JS('C'))]]);
});

test('the compiled migrations point at the same source lines as their sources (through the source maps)', async () => {
  // Run by node itself, as the built CLI runs them (jest would compile the .js again, and its maps with it).
  const script = `const { loadMigrations } = require('./dist/src/migrate/loader');
    const { captureStatements } = require('./dist/src/migrate/capture');
    Promise.all(loadMigrations(process.cwd(), { compiled: true }).map((m) => captureStatements(m, 'up')))
      .then((all) => process.stdout.write(JSON.stringify(all)));`;
  const fromBuild = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' }));
  const fromSource = await Promise.all(loadMigrations().map((m) => captureStatements(m, 'up')));
  expect(fromBuild).toEqual(fromSource);
  expect(fromSource.flatMap((c) => c.statements).every((s) => typeof s.line === 'number' && s.line > 0)).toBe(true);
});
