import http from 'node:http';
import { startApp } from './app-process';

/**
 * The service's HTTP path under load: N purchases, C in flight, spread over one or more instances,
 * with latency measured per request from the client's side (connection reuse, JSON both ways).
 *
 *   node dist/bench/http-load.js --url http://127.0.0.1:3000 [--count 5000] [--concurrency 32] [--json]
 *   node dist/bench/http-load.js --database-url URL ...   starts one instance on that database itself
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

/** Runs the load: `concurrency` workers take the next purchase until `count` are sent; instance i % urls. */
export async function runHttpLoad(opts: LoadOptions): Promise<LoadReport> {
  const agent = createAgent(opts.concurrency);
  const replies: LoadReport['replies'] = new Array(opts.count);
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    for (let i = next++; i < opts.count; i = next++) {
      const url = `${opts.urls[i % opts.urls.length]}/purchases`;
      replies[i] = await requestJson(agent, 'POST', url, opts.body(i), opts.timeoutMs).catch((err: Error) => ({ error: err.message }));
      opts.onReply?.(i, replies[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, opts.count) }, worker));
  const wallSeconds = (performance.now() - started) / 1000;
  agent.destroy();
  const byStatus: Record<string, number> = {};
  const ms: number[] = [];
  for (const r of replies) {
    const key = 'error' in r ? 'error' : String(r.status);
    byStatus[key] = (byStatus[key] ?? 0) + 1;
    if (!('error' in r)) ms.push(r.ms);
  }
  ms.sort((a, b) => a - b);
  const at = (q: number) => (ms.length === 0 ? 0 : round(ms[Math.min(ms.length - 1, Math.ceil(q * ms.length) - 1)]));
  return {
    count: opts.count,
    concurrency: opts.concurrency,
    instances: opts.urls.length,
    byStatus,
    successRate: (byStatus['201'] ?? 0) / opts.count,
    purchasesPerSecond: round(opts.count / wallSeconds),
    latencyMs: { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: at(1) },
    wallSeconds: round(wallSeconds),
    replies,
  };
}

/** The bench's data shape: 100 generated users and 10 items (`seed generate`), quantity 1. */
export function generatedPurchase(i: number, mode = 'orchestration'): Record<string, unknown> {
  return { userId: `gen-user-${String((i % 100) + 1).padStart(7, '0')}`, itemId: `gen-item-${String((i % 10) + 1).padStart(6, '0')}`, quantity: 1, mode };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

interface Args { url?: string; databaseUrl?: string; count: number; concurrency: number; mode: string; json: boolean }

function parseArgs(argv: string[]): Args {
  const args: Args = { databaseUrl: process.env.DATABASE_URL, count: 5000, concurrency: 32, mode: 'orchestration', json: false };
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
    else if (flag === '--mode') args.mode = value();
    else if (flag === '--json') args.json = true;
    else fail(`unknown option ${flag}`);
  }
  if (!args.url && !args.databaseUrl) fail('give --url of a running service, or --database-url (or DATABASE_URL) to start one');
  return args;
}

function fail(message: string): never {
  process.stderr.write(`http-load: ${message}\nusage: http-load [--url URL | --database-url URL] [--count N] [--concurrency C] [--mode M] [--json]\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const app = args.url ? undefined : await startApp({ databaseUrl: args.databaseUrl!, instance: 'http-load' });
  try {
    const { replies: _r, ...report } = await runHttpLoad({ urls: [args.url ?? app!.url], count: args.count, concurrency: args.concurrency,
      body: (i) => generatedPurchase(i, args.mode) });
    const line = { scenario: `http ${args.mode} (NestJS service)`, ...report };
    process.stdout.write(args.json ? `${JSON.stringify(line)}\n`
      : `${line.scenario}: ${report.count} purchases at concurrency ${report.concurrency}: ${report.purchasesPerSecond}/s, `
        + `p50 ${report.latencyMs.p50} ms, p95 ${report.latencyMs.p95} ms, success ${(report.successRate * 100).toFixed(1)}% ${JSON.stringify(report.byStatus)}\n`);
    // Every purchase of this data shape completes; anything else is a failure of the service, not a figure.
    if (report.successRate !== 1) process.exitCode = 1;
  } finally {
    await app?.stop();
  }
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`http-load: ${err.stack ?? err.message}\n`);
    process.exitCode = 1;
  });
}
