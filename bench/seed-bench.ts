import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { maskUrl } from '../src/config';
import { applicationName, createDb, createPool } from '../src/db/pool';
import { loadMigrations } from '../src/migrate/loader';
import { runUp } from '../src/migrate/runner';
import { packageRoot } from '../src/paths';
import { GenerateOptions, userLine } from '../src/seed/generate';
import { urlFor, benchArgs, DEFAULT_SERVER } from './support';

/**
 * npm run bench:seed [-- --rows N] [--repeat R] [--database-url URL] [--json]
 *
 * The product's bulk target: `seed generate --users 1000000` runs at no less than 70% of the rows
 * per second of a plain COPY of the same rows into the same table. Each trial takes two fresh
 * databases cloned from one migrated template:
 *   copy      the exact rows `seed generate --seed 1` writes, made by the project's own userLine()
 *             into a temporary file beforehand (not timed), then COPY users FROM STDIN through
 *             pg-copy-streams in one transaction, timed from BEGIN to COMMIT;
 *   generate  `sagactl seed generate --users N --seed 1 --json` run as a child process of the built
 *             binary; its own rowsPerSecond, and its wall time (node start, connect, exit) beside it.
 * The order alternates from trial to trial (2 cores, noisy), a CHECKPOINT precedes every timed
 * load, and the medians decide. Exit 0 on PASS, 1 on FAIL or an invalid measurement, 2 on usage.
 */

const THRESHOLD = 0.7;
const COLUMNS = 'user_id, name, balance, status, purchase_limit';

interface Args { baseUrl: string; rows: number; repeat: number; json: boolean }

const USAGE = 'usage: npm run bench:seed -- [--rows N (default 1000000)] [--repeat R (default 3)] [--database-url URL] [--json]\n'
  + `Compares \`sagactl seed generate --users N\` with a plain COPY of the same rows; PASS when its rows/s is at least ${THRESHOLD * 100}%\n`
  + "of COPY's (medians of R alternating trials). The server is --database-url, else DATABASE_URL, else 127.0.0.1:5432.\n";

function parseArgs(argv: string[]): Args {
  return benchArgs<Args>('seed', USAGE, argv, { baseUrl: DEFAULT_SERVER, rows: 1_000_000, repeat: 3, json: false },
    { '--database-url': ['baseUrl', 'text'], '--rows': ['rows', [1, 100_000_000]], '--repeat': ['repeat', [1, 9]], '--json': ['json', 'switch'] });
}

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000, application_name: applicationName('bench-seed') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const admin = (base: string, sql: string) => withClient(urlFor(base, 'postgres'), (c) => c.query(sql));

/** The rows `seed generate --users N --seed 1` writes, as COPY text, built with the project's own userLine(). */
function writeRows(file: string, rows: number): void {
  const opts: GenerateOptions = { users: rows, items: 0, seed: 1 };
  const fd = fs.openSync(file, 'w');
  try {
    for (let start = 1; start <= rows; start += 10_000) {
      const end = Math.min(rows, start + 9_999);
      const lines: string[] = [];
      for (let k = start; k <= end; k++) lines.push(userLine(opts, k));
      fs.writeSync(fd, lines.join(''));
    }
  } finally {
    fs.closeSync(fd);
  }
}

interface Timed { method: string; rows: number; seconds: number; rowsPerSecond: number }

/** A plain COPY of the file into users, in one transaction, timed from BEGIN to COMMIT (connected before). */
async function timeCopy(url: string, file: string, rows: number): Promise<Timed> {
  return withClient(url, async (client) => {
    await client.query('CHECKPOINT');
    const started = process.hrtime.bigint();
    await client.query('BEGIN');
    await pipeline(fs.createReadStream(file), client.query(copyFrom(`COPY users (${COLUMNS}) FROM STDIN`)));
    await client.query('COMMIT');
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { method: 'COPY (pg-copy-streams)', rows, seconds, rowsPerSecond: Math.round(rows / seconds) };
  });
}

interface GenerateJson { users: number; items: number; rows: number; skipped: number; seconds: number; rowsPerSecond: number }

/** `sagactl seed generate` as a child process: its own figures, and the process's wall time. */
async function timeGenerate(url: string, rows: number): Promise<{ own: Timed; wall: Timed }> {
  await withClient(url, (c) => c.query('CHECKPOINT'));
  const bin = path.join(packageRoot(), 'bin', 'sagactl');
  const argv = [bin, '--database-url', url, 'seed', 'generate', '--users', String(rows), '--seed', '1', '--json'];
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.REDIS_URL; // the saga cache has nothing to do with seeding
  const started = process.hrtime.bigint();
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c, stdout: out, stderr: err }));
  });
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) throw new Error(`sagactl seed generate exited ${code}:\n${stderr}${stdout}`);
  const result = JSON.parse(stdout) as GenerateJson;
  if (result.users !== rows || result.rows !== rows || result.skipped !== 0) {
    throw new Error(`sagactl seed generate reported ${JSON.stringify(result)}, expected ${rows} new users`);
  }
  return {
    own: { method: 'seed generate (own figure)', rows, seconds: result.seconds, rowsPerSecond: result.rowsPerSecond },
    wall: { method: 'seed generate (process wall)', rows, seconds: wallSeconds, rowsPerSecond: Math.round(rows / wallSeconds) },
  };
}

/** Both databases must hold the same rows, or the comparison means nothing. */
async function fingerprint(url: string): Promise<{ count: number; md5: string }> {
  return withClient(url, async (c) => {
    const { rows: [row] } = await c.query<{ count: string; md5: string }>(
      `SELECT count(*) AS count, md5(string_agg(concat_ws('|', user_id, name, balance, status, purchase_limit), ',' ORDER BY user_id)) AS md5
         FROM users`);
    return { count: Number(row.count), md5: row.md5 };
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function table(rows: Timed[]): string {
  const head = ['method', 'rows', 'seconds', 'rows/s'];
  const cells = rows.map((r) => [r.method, String(r.rows), r.seconds.toFixed(3), String(r.rowsPerSecond)]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const say = (text: string) => process.stderr.write(`${text}\n`); // diagnostics on stderr, even with --json
  const prefix = `sagactl_bench_seed_${crypto.randomBytes(3).toString('hex')}`;
  const template = `${prefix}_tpl`;
  const created: string[] = [];
  const create = async (name: string, from?: string) => {
    await admin(args.baseUrl, `CREATE DATABASE ${name}${from ? ` TEMPLATE ${from}` : ''}`);
    created.push(name);
    return urlFor(args.baseUrl, name);
  };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-bench-seed-'));
  const file = path.join(tmp, 'users.copy');
  // Runs once, whoever asks first (the end of main, or Ctrl-C); both wait for the same drop.
  let cleaning: Promise<void> | undefined;
  const cleanup = () => (cleaning ??= (async () => {
    fs.rmSync(tmp, { recursive: true, force: true });
    for (const name of [...created].reverse()) {
      await admin(args.baseUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch((e) => say(`could not drop ${name}: ${e.message}`));
    }
  })());
  process.once('SIGINT', () => {
    say('bench:seed: interrupted; dropping the benchmark databases');
    void cleanup().finally(() => process.exit(130));
  });

  try {
    say(`bench:seed: server ${maskUrl(args.baseUrl)}, ${args.rows} rows, ${args.repeat} trial(s), ${os.cpus().length} cores`);
    const tplUrl = await create(template);
    const pool = createPool(tplUrl, 2, applicationName('bench-seed'), 5000);
    try {
      await runUp({ db: createDb(pool, tplUrl), migrations: loadMigrations(), lockTimeoutMs: 10_000, log: () => undefined });
    } finally {
      await pool.end();
    }
    const server = await withClient(tplUrl, async (c) => (await c.query(`SELECT current_setting('server_version') AS v`)).rows[0].v as string);
    const loadBefore = os.loadavg().map((l) => l.toFixed(2)).join(' ');
    const prepStarted = Date.now();
    writeRows(file, args.rows);
    say(`baseline file: ${(fs.statSync(file).size / 1e6).toFixed(1)} MB written by userLine() in ${((Date.now() - prepStarted) / 1000).toFixed(2)} s (not timed)`);

    const trials: { order: string; copy: Timed; own: Timed; wall: Timed; ratio: number }[] = [];
    for (let t = 1; t <= args.repeat; t++) {
      const copyUrl = await create(`${prefix}_${t}_copy`, template);
      const genUrl = await create(`${prefix}_${t}_gen`, template);
      const copyFirst = t % 2 === 1;
      let copy: Timed | undefined;
      let gen: { own: Timed; wall: Timed } | undefined;
      for (const step of copyFirst ? ['copy', 'generate'] : ['generate', 'copy']) {
        if (step === 'copy') copy = await timeCopy(copyUrl, file, args.rows);
        else gen = await timeGenerate(genUrl, args.rows);
      }
      if (t === 1) {
        const [a, b] = [await fingerprint(copyUrl), await fingerprint(genUrl)];
        if (a.count !== args.rows || b.count !== args.rows || a.md5 !== b.md5) {
          throw new Error(`the two tables differ: COPY ${a.count} rows md5 ${a.md5}, generate ${b.count} rows md5 ${b.md5}`);
        }
        say(`trial 1: both tables hold the same ${a.count} rows (md5 ${a.md5})`);
      }
      const ratio = gen!.own.rowsPerSecond / copy!.rowsPerSecond;
      trials.push({ order: copyFirst ? 'copy, generate' : 'generate, copy', copy: copy!, own: gen!.own, wall: gen!.wall, ratio });
      say(`trial ${t} (${trials[t - 1].order}): COPY ${copy!.rowsPerSecond} rows/s, generate ${gen!.own.rowsPerSecond} rows/s `
        + `(wall ${gen!.wall.rowsPerSecond}), ratio ${(ratio * 100).toFixed(1)}%`);
      // Each trial's databases go as soon as it is done: 2 x N rows of disk each.
      for (const name of [`${prefix}_${t}_copy`, `${prefix}_${t}_gen`]) {
        await admin(args.baseUrl, `DROP DATABASE ${name} WITH (FORCE)`);
        created.splice(created.indexOf(name), 1);
      }
    }

    const med = (method: string, pick: (t: (typeof trials)[number]) => Timed): Timed => {
      const seconds = median(trials.map((t) => pick(t).seconds));
      return { method, rows: args.rows, seconds, rowsPerSecond: Math.round(median(trials.map((t) => pick(t).rowsPerSecond))) };
    };
    const summary = [
      med('COPY (pg-copy-streams)', (t) => t.copy),
      med('seed generate (own figure)', (t) => t.own),
      med('seed generate (process wall)', (t) => t.wall),
    ];
    const ratio = summary[1].rowsPerSecond / summary[0].rowsPerSecond;
    const wallRatio = summary[2].rowsPerSecond / summary[0].rowsPerSecond;
    const pass = ratio >= THRESHOLD;
    const loadAfter = os.loadavg().map((l) => l.toFixed(2)).join(' ');

    if (args.json) {
      process.stdout.write(`${JSON.stringify({
        rows: args.rows, repeat: args.repeat, server, cores: os.cpus().length, loadBefore, loadAfter, threshold: THRESHOLD,
        median: { copy: summary[0], generate: summary[1], generateWall: summary[2] },
        ratio, wallRatio, pass, trials,
      }, null, 2)}\n`);
    } else {
      process.stdout.write([
        `seed benchmark: ${args.rows} users, PostgreSQL ${server}, ${os.cpus().length} cores, median of ${args.repeat} alternating trial(s)`,
        `load average before: ${loadBefore}   after: ${loadAfter}   (other work on the machine skews both methods)`,
        '',
        table(summary),
        '',
        `per trial (rows/s): ${trials.map((t, i) => `#${i + 1} ${t.order}: copy ${t.copy.rowsPerSecond}, generate ${t.own.rowsPerSecond} (${(t.ratio * 100).toFixed(1)}%)`).join('; ')}`,
        `ratio generate / COPY: ${(ratio * 100).toFixed(1)}%  (process wall / COPY: ${(wallRatio * 100).toFixed(1)}%)`,
        `${pass ? 'PASS' : 'FAIL'}  seed generate at >= ${THRESHOLD * 100}% of COPY's rows/s: ${(ratio * 100).toFixed(1)}%`,
        '',
      ].join('\n'));
    }
    return pass ? 0 : 1;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench:seed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
