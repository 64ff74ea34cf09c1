import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { packageRoot } from '../paths';
import { CheckFailedError } from '../errors';

/**
 * What `npm run build` compiled: for each migration, the checksum of the source it compiled and of
 * the JavaScript it wrote. tsc itself records neither, so without this a stale dist/ (a source edited
 * or added after the build) would run old code while every check reads the new source.
 */
export const MANIFEST = path.join('dist', 'migrations', 'build-manifest.json');

export const MIGRATION_FILE = /^(\d{13})-[a-z0-9][a-z0-9-]*\.ts$/;

export interface BuildEntry {
  source: string;
  compiled: string;
}

export type Manifest = Record<string, BuildEntry>;

/** SHA-256 of a text with line endings normalised, so a CRLF checkout is not a "change". */
export function checksumOf(source: string): string {
  return crypto.createHash('sha256').update(source.replace(/\r\n?/g, '\n')).digest('hex');
}

export function sourceFiles(root: string): string[] {
  return fs.readdirSync(path.join(root, 'migrations')).filter((f) => MIGRATION_FILE.test(f)).sort();
}

export function compiledPath(root: string, name: string): string {
  return path.join(root, 'dist', 'migrations', `${name}.js`);
}

function checksumOfFile(file: string): string {
  return checksumOf(fs.readFileSync(file, 'utf8'));
}

/** Run after tsc by `npm run build` (the package's postbuild script). */
export function writeBuildManifest(root = packageRoot()): Manifest {
  const manifest: Manifest = {};
  for (const file of sourceFiles(root)) {
    const name = file.slice(0, -3);
    const js = compiledPath(root, name);
    if (fs.existsSync(js)) manifest[name] = { source: checksumOfFile(path.join(root, 'migrations', file)), compiled: checksumOfFile(js) };
  }
  fs.writeFileSync(path.join(root, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

export interface StaleMigration {
  name: string;
  reason: string;
}

/** Every migration whose compiled file is not the build of its current source, with why. */
export function findStaleBuild(root = packageRoot()): StaleMigration[] {
  let manifest: Manifest | undefined;
  const manifestFile = path.join(root, MANIFEST);
  if (fs.existsSync(manifestFile)) manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as Manifest;
  const stale: StaleMigration[] = [];
  for (const file of sourceFiles(root)) {
    const name = file.slice(0, -3);
    const js = compiledPath(root, name);
    const entry = manifest?.[name];
    if (!fs.existsSync(js)) stale.push({ name, reason: 'not compiled' });
    else if (!manifest) stale.push({ name, reason: `no ${MANIFEST} (built without \`npm run build\`)` });
    else if (!entry) stale.push({ name, reason: 'compiled without `npm run build`' });
    else if (entry.source !== checksumOfFile(path.join(root, 'migrations', file))) stale.push({ name, reason: 'source changed since the build' });
    else if (entry.compiled !== checksumOfFile(js)) stale.push({ name, reason: 'compiled file changed since the build' });
  }
  return stale;
}

export function assertBuildCurrent(root = packageRoot()): void {
  const stale = findStaleBuild(root);
  if (stale.length === 0) return;
  throw new CheckFailedError(
    `The build is stale: ${stale.map((s) => `${s.name} (${s.reason})`).join(', ')}. What would run is not what the sources say.`,
    'Run `npm run build`, then the command again.');
}
