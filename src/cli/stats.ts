import { Command } from 'commander';
import { Io } from './io';
import { Ctx, withApp } from './adapter';
import { Output, toJson } from './output';
import { bars, sparkline } from './charts';
import { watchUntilStopped } from './watch-loop';
import { chooseFormat, Format, parseWatch, shortDuration } from './format';
import { StateError, UsageError } from '../errors';
import { PG, pgCode } from '../db/pg-errors';
import { parseDuration, parseInstant, parseIntOption } from '../duration';
import type { App } from '../app';
import type { SagaStats } from '../stats/summary';

type StatsFlags = { since?: string; until?: string; format?: string; watch?: string; iterations?: string; olderThan: string };

export interface StatsInput {
  since?: string;
  until?: string;
  format: Format;
  intervalMs?: number;
  iterations?: number;
  olderThanMs: number;
}

export function registerStats(program: Command, io: Io): void {
  program.command('stats').description('saga statistics: counts by status and mode, rates, stuck sagas, latency, throughput, errors')
    .option('--since <time>', 'sagas created at or after: ISO-8601 or a duration ago (15m, 2h, 7d); default: all')
    .option('--until <time>', 'sagas created before: ISO-8601 or a duration ago; default: now')
    .option('--format <format>', 'table (the default) | json | prometheus (text exposition format)')
    .option('--watch <duration>', 'redraw every so often (5s, 1m; a bare number is seconds), until Ctrl-C')
    .option('--iterations <n>', 'with --watch: stop after N rounds')
    .option('--older-than <duration>', 'the stuck count: sagas unmoved this long with no live lease (and compensation_failed ones)', '1m')
    .addHelpText('after', `
Counts are exact. Latency percentiles are estimated from log-scale bins (within 4.5%); max and
mean are exact. Minutes older than 5 minutes are read from a rollup that stats keeps up to date
itself, the rest from saga_states, so ten million sagas answer in milliseconds after the first run.
Examples:
  $ sagactl stats
  $ sagactl stats --since 24h --json
  $ sagactl stats --since 2026-11-01 --until 2026-11-02 --format prometheus
  $ sagactl stats --since 15m --watch 5s`)
    .action(withApp<StatsFlags, StatsInput>(io, 'stats', parseStats, async (app, input, ctx) => {
      if (input.intervalMs === undefined) return emitStats(app, input, ctx, false);
      await watchUntilStopped(ctx.io, { intervalMs: input.intervalMs, maxIterations: input.iterations }, () => emitStats(app, input, ctx, true));
    }));
}

/** Every option is checked before anything connects: a bad value exits 2 and writes nothing. */
export function parseStats(ctx: Ctx<StatsFlags>): StatsInput {
  const o = ctx.opts;
  const input: StatsInput = { since: o.since, until: o.until, format: chooseFormat(o),
    olderThanMs: parseDuration(o.olderThan ?? '1m', '--older-than') };
  windowOf(input, Date.now());
  if (o.watch !== undefined) input.intervalMs = parseWatch(o.watch);
  if (o.iterations !== undefined) {
    if (o.watch === undefined) throw new UsageError('--iterations counts the rounds of --watch; give --watch too.');
    input.iterations = parseIntOption(o.iterations, '--iterations', 1, 1_000_000);
  }
  return input;
}

/** The window at `now`: a relative --since (15m) slides with every round of a watch. */
export function windowOf(input: StatsInput, now: number): { since?: Date; until?: Date } {
  const since = input.since === undefined ? undefined : parseInstant(input.since, '--since', now);
  const until = input.until === undefined ? undefined : parseInstant(input.until, '--until', now);
  if (since && until && since.getTime() >= until.getTime()) {
    throw new UsageError(`--since (${since.toISOString()}) must be before --until (${until.toISOString()}).`);
  }
  return { since, until };
}

async function emitStats(app: App, input: StatsInput, ctx: Ctx<StatsFlags>, watching: boolean): Promise<void> {
  const { getStats } = require('../stats/read') as typeof import('../stats/read');
  // Only the first run over a long history takes a while: the progress shows nothing for short work.
  const stats = await ctx.out.withProgress({ label: 'building the statistics rollup', unit: 'minutes', total: 0,
    resume: 'The minutes rolled so far are kept; the next `sagactl stats` goes on from there.' },
  (progress) => getStats(app.db, { ...windowOf(input, Date.now()), olderThanMs: input.olderThanMs,
    onProgress: (done, total) => progress.tick(done, total) })).catch((err) => {
    if (pgCode(err) !== PG.undefinedTable) throw err;
    throw new StateError(`The schema is not migrated: ${(err as Error).message}.`, 'Run `sagactl migrate up` first.');
  });
  if (input.format === 'prometheus') {
    const { renderPrometheus } = require('../stats/prometheus') as typeof import('../stats/prometheus');
    ctx.io.stdout.write(renderPrometheus(stats));
  } else if (input.format === 'json') {
    // A watch prints one JSON document per line, so jq and log shippers can follow it.
    ctx.io.stdout.write(watching ? `${JSON.stringify(stats)}\n` : `${toJson(stats)}\n`);
  } else {
    if (watching && ctx.io.stdoutIsTTY) ctx.io.stdout.write('\x1b[2J\x1b[H');
    if (watching) ctx.out.print(ctx.out.color.dim(`${stats.window.now}  every ${shortDuration(input.intervalMs! / 1000)}, Ctrl-C to stop`));
    renderStats(ctx.out, stats);
  }
  if (stats.rollup.note) ctx.out.warn(stats.rollup.note);
}

const n = (x: number) => x.toLocaleString('en-US');
const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(2)}%`);
const ms = (x: number | null) => (x === null ? '-' : x.toLocaleString('en-US', { maximumSignificantDigits: 4 }));

export function renderStats(out: Output, s: SagaStats): void {
  const from = s.window.since ?? 'the first saga';
  out.print(out.color.bold(`sagas created from ${from} to ${s.window.until ?? 'now'}`));
  const share = (x: number) => (s.total === 0 ? '-' : `${((x / s.total) * 100).toFixed(2)}%`);
  out.table(['status', 'sagas', 'share'], ([
    ['pending', s.pending], ['in_progress', s.inProgress], ['completed', s.completed], ['failed', s.failed],
    ['compensating', s.compensating], ['compensated', s.compensated], ['compensation_failed', s.compensationFailed],
  ] as const).map(([status, count]) => [status, n(count), share(count)]).concat([['total', n(s.total), '']]));
  out.print(`success ${pct(s.successRate)}   compensation ${pct(s.compensationRate)}   ` +
    `stuck ${s.stuck > 0 ? out.color.red(n(s.stuck)) : '0'}`);
  out.print(`by mode: ${Object.entries(s.byMode).map(([mode, count]) => `${mode} ${n(count)}`).join('   ')}`);
  const l = s.latencyMs;
  out.print(`latency ms, ${n(l.count)} completed: p50 ${ms(l.p50)}  p95 ${ms(l.p95)}  p99 ${ms(l.p99)}  ` +
    `max ${ms(l.max)}  mean ${ms(l.mean)}  (percentiles within ±${(l.relativeError * 100).toFixed(1)}%)`);
  if (s.throughput) {
    const t = s.throughput;
    out.print(`sagas per minute, one column per ${t.bucketMinutes >= 60 ? `${t.bucketMinutes / 60} h` : `${t.bucketMinutes} min`} ` +
      `from ${t.from.toISOString().slice(0, 16).replace('T', ' ')}: avg ${n(t.averagePerMinute)}, peak ${n(Math.max(...t.perMinute))}`);
    out.print(`  ${sparkline(t.perMinute)}`);
  }
  if (s.topErrors.length > 0) {
    out.print('top error codes:');
    for (const line of bars(s.topErrors.map((e) => ({ label: e.code, value: e.count })), 30)) out.print(`  ${line}`);
  }
  if (s.failuresByStep.some((f) => f.count > 0)) {
    out.print('failed at step:');
    for (const line of bars(s.failuresByStep.map((f) => ({ label: f.step, value: f.count })), 30)) out.print(`  ${line}`);
  }
}
