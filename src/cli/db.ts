import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { Io } from './io';
import { Ctx, withApp, withoutApp } from './adapter';
import { Output, toJson } from './output';
import { resolveConfig } from '../config';
import { EXIT, InterruptedError, OutcomeExit, UsageError } from '../errors';
import { chooseFormat, Format, parseWatch, shortDuration } from './format';
import { reportOf } from './error-report';
import { watchUntilStopped } from './watch-loop';
import { parseDuration } from '../duration';
import type { App } from '../app';
import type { HealthReport } from '../health/health';
import type { CheckReport } from '../health/check';

export function registerDb(program: Command, io: Io): void {
  const db = program.command('db').description('the embedded server, database health and the integrity check')
    .addHelpText('after', `
Examples:
  $ sagactl db health                  connections, long transactions, locks, sizes, cache hit, slow queries
  $ sagactl db check                   the data-integrity invariants; exit 6 when one fails
  $ sagactl db start                   keep the embedded server running between commands
  $ sagactl db stop`);
  registerHealth(db, io);
  registerCheck(db, io);

  db.command('start').description('start the embedded PostgreSQL and keep it running; prints its URL')
    .addHelpText('after', '\nExamples:\n  $ sagactl db start\n  $ psql "$(sagactl db start)"')
    .action(withoutApp(io, async (ctx) => {
      const home = embeddedHome(io, ctx.opts);
      const { startDaemon } = (require('../db/embedded') as typeof import('../db/embedded'));
      const url = await startDaemon(home, ctx.out.info);
      ctx.out.result({ running: true, home, url }, () => {
        ctx.out.print(url);
        ctx.out.info(`the embedded server keeps running; stop it with: sagactl db stop`);
      });
    }));

  db.command('stop').description('stop the embedded PostgreSQL started by `db start`')
    .addHelpText('after', '\nExamples:\n  $ sagactl db stop')
    .action(withoutApp(io, async (ctx) => {
      const home = embeddedHome(io, ctx.opts);
      const { stopDaemon } = (require('../db/embedded') as typeof import('../db/embedded'));
      const stopped = await stopDaemon(home);
      ctx.out.result({ stopped, home }, () => ctx.out.print(stopped ? 'stopped' : 'not running'));
    }));
}

function embeddedHome(io: Io, opts: { databaseUrl?: string; embedded?: boolean; pool?: string }): string {
  const config = resolveConfig({ ...opts, embedded: opts.databaseUrl === undefined ? true : opts.embedded }, io.env, io.cwd);
  if (config.database.kind !== 'embedded') throw new UsageError('db start/stop manage the embedded server; no --database-url here.');
  return config.database.home;
}

type HealthFlags = { format?: string; output?: string; watch?: string };
interface HealthInput { format: Format; output?: string; intervalMs?: number }

function registerHealth(db: Command, io: Io): void {
  let input: HealthInput | undefined;
  const health = withApp<HealthFlags, HealthInput>(io, 'db-health', (ctx) => (input = parseHealth(ctx)), async (app, parsed, ctx) => {
    if (parsed.intervalMs === undefined) return emitHealth(app, parsed, ctx, false);
    await watchUntilStopped(ctx.io, { intervalMs: parsed.intervalMs }, () => emitHealth(app, parsed, ctx, true));
  });
  db.command('health').description('connections, long transactions, lock waits, sizes, cache hit ratio, slow queries, migrations')
    .option('--format <format>', 'table (the default) | json | prometheus (node_exporter textfile format)')
    .option('--output <file>', 'write the report to this file, atomically (temp file + rename), instead of stdout')
    .option('--watch <duration>', 'redraw every so often (5s, 1m; a bare number is seconds), until Ctrl-C')
    .addHelpText('after', `
With --output, a database that cannot be reached still gets a file: sagactl_db_up 0 (JSON: "up": false),
so the monitoring never keeps reading an old "up"; the command still exits 4.
Examples:
  $ sagactl db health
  $ sagactl db health --json
  $ sagactl db health --watch 5s
  $ sagactl db health --format prometheus --output /var/lib/node_exporter/textfile/sagactl.prom
    (from cron, every minute: node_exporter's textfile collector reads the file)`)
    .action(async (...params: unknown[]) => {
      try {
        await health(...params);
      } catch (err) {
        if (input?.output !== undefined && !(err instanceof InterruptedError)) writeDownReport(io, input, err);
        throw err;
      }
    });
}

export function parseHealth(ctx: Ctx<HealthFlags>): HealthInput {
  const o = ctx.opts;
  const format = chooseFormat(o);
  if (o.output !== undefined && format === 'table') {
    throw new UsageError('--output writes --json or --format prometheus; choose one of them.', 'e.g. sagactl db health --format prometheus --output sagactl.prom');
  }
  return {
    format,
    output: o.output === undefined ? undefined : assertWritableTarget(o.output, ctx.io.cwd),
    intervalMs: o.watch === undefined ? undefined : parseWatch(o.watch),
  };
}

/** The health report could not be made: the file says so (atomically), instead of keeping the last "up". */
function writeDownReport(io: Io, input: HealthInput, err: unknown): void {
  const at = new Date();
  const { writeFileAtomic } = require('../health/atomic-write') as typeof import('../health/atomic-write');
  const { renderPrometheusDown } = require('../health/prometheus') as typeof import('../health/prometheus');
  const { code, exitCode, message, hint } = reportOf(err);
  const text = input.format === 'prometheus' ? renderPrometheusDown(at)
    : `${toJson({ up: false, at, error: { code, exitCode, message, hint } })}\n`;
  try {
    writeFileAtomic(input.output!, text);
  } catch (writeErr) {
    io.stderr.write(`warning: could not write ${input.output}: ${(writeErr as Error).message}\n`);
  }
}

/** Checked before anything connects, so a bad --output writes nothing and exits 2. */
function assertWritableTarget(raw: string, cwd: string): string {
  if (raw.trim() === '') throw new UsageError('--output needs a file name.');
  const file = path.resolve(cwd, raw);
  const dir = path.dirname(file);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`--output: the folder ${dir} does not exist.`);
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw new UsageError(`--output: ${file} is a folder, not a file.`);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    throw new UsageError(`--output: cannot write in ${dir} (permission denied).`);
  }
  return file;
}

async function emitHealth(app: App, input: HealthInput, ctx: Ctx<HealthFlags>, watching: boolean): Promise<void> {
  const { getHealth } = require('../health/health') as typeof import('../health/health');
  const report = await getHealth(app.db);
  const text = renderHealth(report, input.format, watching);
  if (input.output !== undefined) {
    const { writeFileAtomic } = require('../health/atomic-write') as typeof import('../health/atomic-write');
    writeFileAtomic(input.output, text ?? '');
    ctx.out.info(`wrote ${input.output} (${report.at.toISOString()})`);
  } else if (text !== undefined) {
    ctx.io.stdout.write(text);
  } else {
    // Text: the terminal is cleared before each round of a watch, so it redraws in place.
    if (watching && ctx.io.stdoutIsTTY) ctx.io.stdout.write('\x1b[2J\x1b[H');
    if (watching) ctx.out.print(ctx.out.color.dim(`${report.at.toISOString()}  every ${shortDuration(input.intervalMs! / 1000)}, Ctrl-C to stop`));
    printHealth(ctx.out, report);
  }
}

/** The machine formats as text; undefined for the human one, which goes through Output's tables. */
function renderHealth(report: HealthReport, format: HealthInput['format'], watching: boolean): string | undefined {
  if (format === 'prometheus') return (require('../health/prometheus') as typeof import('../health/prometheus')).renderPrometheus(report);
  // A watch prints one JSON document per line, so `jq` and log shippers can follow it.
  if (format === 'json') return watching ? `${JSON.stringify(report)}\n` : `${toJson(report)}\n`;
  return undefined;
}

function printHealth(out: Output, report: HealthReport): void {
  const { healthSections } = require('../health/sections') as typeof import('../health/sections');
  for (const section of healthSections(report)) {
    out.print(out.color.bold(section.title));
    if (section.head && section.rows && section.rows.length > 0) out.table(section.head, section.rows);
    for (const line of section.lines) out.print(`  ${line}`);
    out.print('');
  }
}

type CheckFlags = { olderThan?: string; stuckAfter?: string };

function registerCheck(db: Command, io: Io): void {
  db.command('check').description('the data-integrity invariants, money and stock reconciled with the ledger (read-only); exit 6 when any fails')
    .option('--older-than <duration>', 'the stuck rule: a saga unmoved this long with no live lease is stuck (as in saga stuck)', '1m')
    .addOption(new Option('--stuck-after <duration>', 'the old name of --older-than').hideHelp())
    .addHelpText('after', `
Checks: no negative balance or stock; completed sagas have every forward step and their log row;
compensated sagas undid every committed step; every refund matches its debit; no step recorded twice;
every balance and stock equals its ledger; every ledger movement is explained by one saga step or a
declared source; every step that moves money or stock has its movement; no saga refunded more than
it was charged; no saga stuck (see saga stuck); the choreography outbox: no event undelivered past
--older-than, every delivered event has the step it triggered, no saga in flight waits on an event
never emitted, no event delivered twice. What to do when one fails: docs/runbook.md.
Exit: 0 all hold, 6 any fails (the offending ids and amounts are printed).
Examples:
  $ sagactl db check
  $ sagactl db check --json --older-than 30m`)
    .action(withApp<CheckFlags, number>(io, 'db-check',
      (ctx) => parseDuration(ctx.opts.stuckAfter ?? ctx.opts.olderThan ?? '1m', ctx.opts.stuckAfter !== undefined ? '--stuck-after' : '--older-than'),
      async (app, olderThanMs, ctx) => {
        const { runChecks } = require('../health/check') as typeof import('../health/check');
        const report = await runChecks(app.db, { olderThanMs });
        ctx.out.result(report, () => printChecks(ctx.out, report));
        if (!report.ok) throw new OutcomeExit(EXIT.checkFailed, failedSummary(report));
      }));
}

function printChecks(out: Output, report: CheckReport): void {
  out.table(['check', 'result', 'count', 'offending (sample)'], report.checks.map((c) => [
    c.name, c.ok ? out.color.green('pass') : out.color.red('FAIL'), c.count,
    c.sample.map((s) => s.id).join(', ') + (c.count > c.sample.length ? `, … ${c.count - c.sample.length} more` : ''),
  ]));
  out.print(report.ok ? `all ${report.checks.length} checks pass` : failedSummary(report));
}

function failedSummary(report: CheckReport): string {
  const failed = report.checks.filter((c) => !c.ok);
  return `${failed.length} of ${report.checks.length} checks fail: ${failed.map((c) => c.name).join(', ')}`;
}
