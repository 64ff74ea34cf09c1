import http from 'node:http';
import type { SagaMode } from 'sagactl';
import { startApp } from './app-process';
import { runLibraryLoad } from './library-load';
import { generatedPurchase, measure, summarize } from './measure';

export { generatedPurchase } from './measure';

/**
 * The service's HTTP path under load: N purchases, C in flight, spread over one or more instances,
 * with latency measured per request from the client's side (connection reuse, JSON both ways).
 *
 *   node dist/bench/http-load.js --url http://127.0.0.1:3000 [--count 5000] [--concurrency 32] [--json]
 *   node dist/bench/http-load.js --database-url URL ...   starts one instance on that database itself
 *   ... --with-library    first the same purchases through the library in-process, for a side-by-side row
 *   ... --warmup N        purchases made first and not measured (default 300)
 *
 * The database must be migrated and seeded the way bench:saga seeds its own:
 * `sagactl seed generate --users 100 --items 10 --balance 1000000.00 --stock 1000000`.
 */

export interface HttpReply {
  status: number;
  body: any;
  ms: number;
}

/** One keep-alive agent per load, as a real client (or a load balancer) keeps its connections. */
export function createAgent(maxSockets: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets });
}

/** One JSON request, bounded by `timeoutMs`. Rejects on a network error (a killed server) or a timeout. */
export function requestJson(agent: http.Agent, method: string, url: string, body?: unknown, timeoutMs = 30_000): Promise<HttpReply> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, timeout: timeoutMs,
      headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('error', reject);
      res.on('end', () => {
        let parsed: unknown = text;
        try { parsed = text === '' ? undefined : JSON.parse(text); } catch { /* not JSON: kept as text */ }
        resolve({ status: res.statusCode ?? 0, body: parsed, ms: performance.now() - started });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

export interface LoadOptions {
  urls: string[];
  count: number;
  concurrency: number;
  /** The body of purchase i (0-based). */
  body: (i: number) => Record<string, unknown>;
  timeoutMs?: number;
  /** Hears of every reply as it arrives (a test kills an instance mid-load from here). */
  onReply?: (i: number, reply: HttpReply | { error: string }) => void;
}

export interface LoadReport {
  count: number;
  concurrency: number;
  instances: number;
  /** Replies by HTTP status; requests that got none (network error, timeout) under "error". */
  byStatus: Record<string, number>;
  /** Purchases answered 201 (completed) over all requests. */
  successRate: number;
  purchasesPerSecond: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  wallSeconds: number;
  replies: (HttpReply | { error: string })[];
}

/** The HTTP load, spread round-robin over the instances (`urls`). */
export async function runHttpLoad(opts: LoadOptions): Promise<LoadReport> {
  const agent = createAgent(opts.concurrency);
  const { replies, ms, wallSeconds } = await measure(opts.count, opts.concurrency, (i) =>
    requestJson(agent, 'POST', `${opts.urls[i % opts.urls.length]}/purchases`, opts.body(i), opts.timeoutMs)
      .catch((err: Error) => ({ error: err.message }) as HttpReply | { error: string }), opts.onReply);
  agent.destroy();
  const keys = replies.map((r) => ('error' in r ? 'error' : String(r.status)));
  return { count: opts.count, concurrency: opts.concurrency, instances: opts.urls.length, ...summarize(keys, ms, wallSeconds, '201'), replies };
}

interface Args { url?: string; databaseUrl?: string; count: number; warmup: number; concurrency: number; mode: SagaMode; json: boolean; withLibrary: boolean }

function parseArgs(argv: string[]): Args {
  const args: Args = { databaseUrl: process.env.DATABASE_URL, count: 5000, warmup: 300, concurrency: 32, mode: 'orchestration', json: false, withLibrary: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => argv[++i] ?? fail(`${flag} needs a value`);
    const whole = () => {
      const v = value();
      return /^[1-9]\d*$/.test(v) ? Number(v) : fail(`${flag} must be a whole number, got "${v}"`);
    };
    if (flag === '--url') args.url = value().replace(/\/+$/, '');
    else if (flag === '--database-url') args.databaseUrl = value();
    else if (flag === '--count') args.count = whole();
    else if (flag === '--concurrency') args.concurrency = whole();
    else if (flag === '--mode') {
      const mode = value();
      args.mode = mode === 'orchestration' || mode === 'choreography' ? mode : fail(`--mode must be orchestration or choreography, got "${mode}"`);
    } else if (flag === '--warmup') args.warmup = /^\d+$/.test(argv[i + 1] ?? '') ? Number(argv[++i]) : fail('--warmup needs a whole number');
    else if (flag === '--json') args.json = true;
    else if (flag === '--with-library') args.withLibrary = true;
    else fail(`unknown option ${flag}`);
  }
  if (!args.url && !args.databaseUrl) fail('give --url of a running service, or --database-url (or DATABASE_URL) to start one');
  if (args.withLibrary && !args.databaseUrl) fail('--with-library needs --database-url (or DATABASE_URL)');
  return args;
}

function fail(message: string): never {
  process.stderr.write(`http-load: ${message}\nusage: http-load [--url URL | --database-url URL] [--count N] [--warmup N] [--concurrency C] [--mode M] [--with-library] [--json]\n`);
  process.exit(2);
}

interface Row { scenario: string; count: number; concurrency: number; purchasesPerSecond: number; successRate: number;
  latencyMs: { p50: number; p95: number }; byStatus: Record<string, number> }

function print(row: Row, json: boolean): void {
  process.stdout.write(json ? `${JSON.stringify(row)}\n`
    : `${row.scenario}: ${row.count} purchases at concurrency ${row.concurrency}: ${row.purchasesPerSecond}/s, `
      + `p50 ${row.latencyMs.p50} ms, p95 ${row.latencyMs.p95} ms, success ${(row.successRate * 100).toFixed(1)}% ${JSON.stringify(row.byStatus)}\n`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const rows: Row[] = [];
  if (args.withLibrary) {
    rows.push({ scenario: `library ${args.mode} (in-process)`, ...await runLibraryLoad({ databaseUrl: args.databaseUrl!, count: args.count,
      warmup: args.warmup, concurrency: args.concurrency, mode: args.mode }) });
    print(rows[0], args.json);
  }
  const app = args.url ? undefined : await startApp({ databaseUrl: args.databaseUrl!, instance: 'http-load' });
  try {
    const load = (count: number) => runHttpLoad({ urls: [args.url ?? app!.url], count, concurrency: args.concurrency,
      body: (i) => generatedPurchase(i, args.mode) });
    // Not measured: the JIT and the pool warm up first, as in bench:saga.
    if (args.warmup > 0) await load(args.warmup);
    const { replies: _r, ...report } = await load(args.count);
    rows.push({ scenario: `http ${args.mode} (NestJS service)`, ...report });
    print(rows[rows.length - 1], args.json);
  } finally {
    await app?.stop();
  }
  // Every purchase of this data shape completes; anything else is a failure of the service, not a figure.
  if (rows.some((r) => r.successRate !== 1)) process.exitCode = 1;
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`http-load: ${err.stack ?? err.message}\n`);
    process.exitCode = 1;
  });
}
