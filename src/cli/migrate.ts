import { Command } from 'commander';
import { Io } from './io';
import { Ctx, withApp, withoutApp } from './adapter';
import { confirm } from './prompts';
import { printDrift, printLint, printPlan, printStatus } from './migrate-render';
import { parseDuration, parseIntOption } from '../duration';
import { OutcomeExit, EXIT, UsageError } from '../errors';
import type { App } from '../app';
import type { Migration } from '../migrate/loader';
import type { MigrateDeps } from '../migrate/runner';

/** The migration core, loaded only when a migrate command runs (never for --help). */
const load = {
  loader: () => require('../migrate/loader') as typeof import('../migrate/loader'),
  runner: () => require('../migrate/runner') as typeof import('../migrate/runner'),
  plan: () => require('../migrate/plan') as typeof import('../migrate/plan'),
  lint: () => require('../migrate/lint') as typeof import('../migrate/lint'),
  drift: () => require('../migrate/drift') as typeof import('../migrate/drift'),
  baseline: () => require('../migrate/baseline') as typeof import('../migrate/baseline'),
  adopt: () => require('../migrate/typeorm-history') as typeof import('../migrate/typeorm-history'),
};

interface RunOpts { lockTimeout: string; ddlLockTimeout?: string; ddlRetries?: string }
interface RunSettings { lockTimeoutMs: number; ddlLockTimeoutMs: number; ddlRetries: number }

/** Validated before anything connects: a bad value writes nothing. */
function runSettings(opts: RunOpts): RunSettings {
  const ddlLockTimeoutMs = parseDuration(opts.ddlLockTimeout ?? '5s', '--ddl-lock-timeout');
  if (ddlLockTimeoutMs <= 0) throw new UsageError('--ddl-lock-timeout must be more than 0: a migration never waits for a lock without limit.');
  return {
    lockTimeoutMs: parseDuration(opts.lockTimeout, '--lock-timeout'),
    ddlLockTimeoutMs,
    ddlRetries: parseIntOption(opts.ddlRetries ?? '3', '--ddl-retries', 0, 20),
  };
}

function scratchUrl(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let url: URL | undefined;
  try { url = new URL(raw); } catch { /* refused below */ }
  if (!url || !['postgres:', 'postgresql:'].includes(url.protocol)) {
    throw new UsageError(`--scratch-url must be a postgres:// URL of a server where a throwaway database may be created, got "${raw}".`);
  }
  return raw;
}

function deps(app: App, ctx: Ctx<unknown>, migrations: Migration[], s: RunSettings): MigrateDeps {
  return { db: app.db, migrations, log: ctx.out.info, ...s };
}

const withRunOptions = (c: Command) => c
  .option('--lock-timeout <duration>', 'how long to wait for another run (its migration lock, or an index build it left running)', '60s')
  .option('--ddl-lock-timeout <duration>', 'lock_timeout of each migration\'s statements, so DDL never queues in front of traffic', '5s')
  .option('--ddl-retries <n>', 'further tries, with growing pauses, of a migration that could not get its lock', '3');

export function registerMigrate(program: Command, io: Io): void {
  const migrate = program.command('migrate').description('run, revert, check, lint and plan the schema migrations')
    .addHelpText('after', `
Examples:
  $ sagactl migrate up                      apply everything pending
  $ sagactl migrate status --check --json   CI gate: exit 6 when pending, changed, out of order or drifted
  $ sagactl migrate plan                    print the SQL up would run, touching nothing
  $ sagactl migrate lint --all              lint every migration's SQL with squawk (no database needed)
  $ sagactl migrate diff                    compare the live schema with what the migrations make
  $ sagactl migrate down --dry-run          show what down would revert, and its SQL`);
  registerUp(migrate, io);
  registerDown(migrate, io);
  registerStatus(migrate, io);
  registerPlan(migrate, io);
  registerCreate(migrate, io);
  registerValidate(migrate, io);
  registerBaseline(migrate, io);
  registerLint(migrate, io);
  registerDiff(migrate, io);
}

type UpOpts = RunOpts & { to?: string; allowOutOfOrder?: boolean; lint?: boolean };

function registerUp(migrate: Command, io: Io): void {
  withRunOptions(migrate.command('up').description('apply pending migrations, each in its own transaction under a short lock_timeout'))
    .option('--to <name>', 'stop after this migration')
    .option('--allow-out-of-order', 'apply a pending migration older than the newest applied one')
    .option('--lint', 'lint the pending migrations first and apply nothing if one fails (exit 6)')
    .addHelpText('after', `
Examples:
  $ sagactl migrate up
  $ sagactl migrate up --lint --lock-timeout 5m --ddl-lock-timeout 3s
  $ sagactl migrate up --to 1764000000000-create-tables`)
    .action(withApp<UpOpts, RunSettings>(io, 'migrate-up', (ctx) => runSettings(ctx.opts), async (app, s, ctx) => {
      const migrations = load.loader().loadMigrations();
      const ran = await load.runner().runUp(deps(app, ctx, migrations, s),
        { to: ctx.opts.to, allowOutOfOrder: ctx.opts.allowOutOfOrder, lint: ctx.opts.lint });
      ctx.out.result({ ran }, () => {
        if (ran.length === 0) ctx.out.print('Nothing to apply: the schema is up to date.');
        for (const r of ran) ctx.out.print(`${ctx.out.color.green('applied')} ${r.name} (${r.durationMs} ms)`);
      });
    }));
}

type DownOpts = RunOpts & { count?: string; to?: string; dryRun?: boolean };

function registerDown(migrate: Command, io: Io): void {
  withRunOptions(migrate.command('down').description('revert applied migrations (newest first); --dry-run shows what and its SQL'))
    .option('--count <n>', 'how many to revert (default 1)')
    .option('--to <name>', 'revert everything applied after this migration; 0 reverts all')
    .option('--dry-run', 'name what would be reverted and print its SQL; change nothing')
    .addHelpText('after', `
Examples:
  $ sagactl migrate down --dry-run
  $ sagactl migrate down --yes
  $ sagactl migrate down --to 0 --yes      revert everything`)
    .action(withApp<DownOpts, RunSettings & { count?: number; to?: string }>(io, 'migrate-down',
      (ctx) => {
        if (ctx.opts.count !== undefined && ctx.opts.to !== undefined) throw new UsageError('Give --count or --to, not both.');
        const count = ctx.opts.count === undefined ? undefined : parseIntOption(ctx.opts.count, '--count', 1, 100_000);
        return { ...runSettings(ctx.opts), count, to: ctx.opts.to };
      },
      async (app, input, ctx) => {
        const migrations = load.loader().loadMigrations();
        const plan = await load.plan().buildDownPlan(app.db, migrations, input);
        const names = plan.map((p) => p.name);
        if (names.length === 0) return ctx.out.result({ ran: [] }, () => ctx.out.print('Nothing to revert.'));
        if (ctx.opts.dryRun) {
          return ctx.out.result({ dryRun: true, revert: names, plan }, () => {
            ctx.out.print(`-- would revert, newest first: ${names.join(', ')}`);
            printPlan(ctx.out.print, plan);
          });
        }
        if (!ctx.opts.yes && !io.stdinIsTTY) {
          printPlan(ctx.out.info, plan);
          throw new UsageError(`This would revert ${names.join(', ')} (newest first; the SQL is above), but stdin is not a terminal, ` +
            'so nobody can confirm. Nothing was reverted.', 'Pass --yes to confirm non-interactively, or --dry-run to only look.');
        }
        const ok = await confirm(io, ctx.opts.yes, `Revert ${names.join(', ')}?`);
        if (!ok) throw new UsageError('Not confirmed; nothing reverted.');
        const ran = await load.runner().runDown(deps(app, ctx, migrations, input), { ...input, expected: names });
        ctx.out.result({ ran }, () => ran.forEach((r) => ctx.out.print(`${ctx.out.color.yellow('reverted')} ${r.name} (${r.durationMs} ms)`)));
      }));
}

type StatusOpts = { check?: boolean; drift: boolean; scratchUrl?: string };

function registerStatus(migrate: Command, io: Io): void {
  migrate.command('status').description('applied and pending migrations; with --check, also drift of the live schema')
    .option('--check', 'exit 6 when anything is pending, changed, missing, out of order, or the schema drifted')
    .option('--no-drift', 'with --check, skip comparing the live schema with what the migrations make')
    .option('--scratch-url <url>', 'server for the throwaway database the schema check builds (default: this one)')
    .addHelpText('after', `
Examples:
  $ sagactl migrate status
  $ sagactl migrate status --check --json
  $ sagactl migrate status --check --scratch-url postgres://ci@localhost:5433/postgres`)
    .action(withApp<StatusOpts, string | undefined>(io, 'migrate-status', (ctx) => scratchUrl(ctx.opts.scratchUrl), async (app, scratch, ctx) => {
      const migrations = load.loader().loadMigrations();
      const status = await load.runner().getStatus(app.db, migrations);
      const adopt = await load.adopt().getAdoptable(app.db, migrations);
      const drift = ctx.opts.check && ctx.opts.drift
        ? await load.drift().checkDrift(app.db, migrations, { scratchUrl: scratch, log: ctx.out.info }) : null;
      const report = { ...status, adopt, drift };
      ctx.out.result(report, () => printStatus(ctx.out, report));
      const clean = status.pending.length === 0 && status.changed.length === 0 && status.missing.length === 0
        && status.outOfOrder.length === 0 && (drift?.ok ?? true);
      if (ctx.opts.check && !clean) throw new OutcomeExit(EXIT.checkFailed);
    }));
}

function registerPlan(migrate: Command, io: Io): void {
  migrate.command('plan').description('print the SQL `up` would run, with transaction boundaries; executes nothing')
    .option('--to <name>', 'plan up to this migration')
    .option('--ddl-lock-timeout <duration>', 'the lock_timeout `up` would run them under', '5s')
    .addHelpText('after', '\nExamples:\n  $ sagactl migrate plan\n  $ sagactl migrate plan --json > plan.json')
    .action(withApp<{ to?: string; ddlLockTimeout: string }, number>(io, 'migrate-plan',
      (ctx) => runSettings({ lockTimeout: '60s', ddlLockTimeout: ctx.opts.ddlLockTimeout }).ddlLockTimeoutMs,
      async (app, ddlLockTimeoutMs, ctx) => {
        const plan = await load.plan().buildPlan(app.db, load.loader().loadMigrations(), { to: ctx.opts.to, ddlLockTimeoutMs });
        ctx.out.result({ plan }, () => {
          if (plan.length === 0) ctx.out.print('-- nothing to apply');
          printPlan(ctx.out.print, plan);
        });
      }));
}

function registerCreate(migrate: Command, io: Io): void {
  migrate.command('create <name>').description('write a new timestamped migration file in migrations/')
    .addHelpText('after', '\nExamples:\n  $ sagactl migrate create add-user-email')
    .action(withoutApp<object>(io, async (ctx) => {
      const { createMigrationFile } = require('../migrate/create') as typeof import('../migrate/create');
      const created = createMigrationFile(ctx.args[0]);
      ctx.out.result(created, () => ctx.out.print(`created ${created.file}\nRun \`npm run build\` before \`sagactl migrate up\`.`));
    }));
}

function registerValidate(migrate: Command, io: Io): void {
  migrate.command('validate').description('compare applied migrations with their sources (checksums); exit 6 on a difference')
    .addHelpText('after', '\nExamples:\n  $ sagactl migrate validate --json')
    .action(withApp<object, void>(io, 'migrate-validate', () => undefined, async (app, _input, ctx) => {
      const status = await load.runner().getStatus(app.db, load.loader().loadMigrations());
      const ok = status.changed.length === 0 && status.missing.length === 0;
      ctx.out.result({ ok, changed: status.changed, missing: status.missing }, () => {
        for (const c of status.changed) ctx.out.print(`${ctx.out.color.red('changed')} ${c.name}: recorded ${c.recorded}, now ${c.current}`);
        for (const c of status.missing) ctx.out.print(`${ctx.out.color.red('missing')} ${c.name}: applied, but its file is gone`);
        if (ok) ctx.out.print(`All ${status.applied.length} applied migrations match their sources.`);
      });
      if (!ok) throw new OutcomeExit(EXIT.checkFailed);
    }));
}

type BaselineOpts = { to?: string; scratchUrl?: string; lockTimeout: string };

function registerBaseline(migrate: Command, io: Io): void {
  migrate.command('baseline').description('record migrations as applied without running them, once their objects are checked to exist')
    .option('--to <name>', 'adopt every migration up to this one (default: those TypeORM\'s runner recorded)')
    .option('--scratch-url <url>', 'server for the throwaway database the check builds (default: this one)')
    .option('--lock-timeout <duration>', 'how long to wait for another run to finish', '60s')
    .addHelpText('after', `
Examples:
  $ sagactl migrate baseline --yes                                   adopt what TypeORM's runner applied
  $ sagactl migrate baseline --to 1764000000100-design-indexes --yes  adopt a schema older than sagactl`)
    .action(withApp<BaselineOpts, { lockTimeoutMs: number; scratch?: string }>(io, 'migrate-baseline',
      (ctx) => ({ lockTimeoutMs: parseDuration(ctx.opts.lockTimeout, '--lock-timeout'), scratch: scratchUrl(ctx.opts.scratchUrl) }),
      async (app, input, ctx) => {
        const ok = await confirm(io, ctx.opts.yes, 'Record migrations as applied without running them?');
        if (!ok) throw new UsageError('Not confirmed; nothing recorded.');
        const migrations = load.loader().loadMigrations();
        const result = await load.baseline().runBaseline({ db: app.db, migrations, log: ctx.out.info, lockTimeoutMs: input.lockTimeoutMs },
          { to: ctx.opts.to, scratchUrl: input.scratch });
        ctx.out.result(result, () => {
          if (result.recorded.length === 0) ctx.out.print('Nothing to baseline: every migration this database has is recorded.');
          for (const r of result.recorded) ctx.out.print(`${ctx.out.color.green('baselined')} ${r.name} (from the ${r.from})`);
          if (result.differences.length > 0) ctx.out.print(`Note: the schema is not exactly what they make; see \`sagactl migrate diff\`.`);
        });
      }));
}

const FORMATS = ['text', 'json', 'github'] as const;
type LintOpts = { all?: boolean; format?: string };

function lintFormat(ctx: Ctx<LintOpts>): (typeof FORMATS)[number] {
  const format = ctx.opts.format ?? (ctx.opts.json ? 'json' : 'text');
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got "${format}".`);
  }
  if (ctx.opts.json && format !== 'json') throw new UsageError(`--json and --format ${format} disagree; give one.`);
  return format as (typeof FORMATS)[number];
}

async function lintAndReport(migrations: Migration[], format: (typeof FORMATS)[number], ctx: Ctx<LintOpts>): Promise<void> {
  const report = await load.lint().lintMigrations(migrations);
  if (format === 'json') ctx.io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else printLint(ctx.out, report, format);
  if (!report.ok) throw new OutcomeExit(EXIT.checkFailed);
}

function registerLint(migrate: Command, io: Io): void {
  const command = migrate.command('lint').description('lint the SQL of pending migrations (or --all) with squawk; exit 6 on a violation')
    .option('--all', 'lint every migration, not only the pending ones (needs no database)')
    .option('--format <format>', 'text, json, or github (GitHub Actions annotations)')
    .addHelpText('after', `
Examples:
  $ sagactl migrate lint                       the migrations up would apply here
  $ sagactl migrate lint --all --format github in a pull request's checks
Rules that do not apply, and per-migration exceptions, are in migrations/lint.json, each with its reason.`);
  const pending = withApp<LintOpts, (typeof FORMATS)[number]>(io, 'migrate-lint', lintFormat, async (app, format, ctx) => {
    const migrations = load.loader().loadMigrations();
    const runner = load.runner();
    await lintAndReport(runner.selectPending(await runner.getStatus(app.db, migrations), migrations), format, ctx);
  });
  const all = withoutApp<LintOpts>(io, async (ctx) => lintAndReport(load.loader().loadMigrations(), lintFormat(ctx), ctx));
  command.action((...params: unknown[]) => ((params[params.length - 1] as Command).opts().all ? all(...params) : pending(...params)));
}

function registerDiff(migrate: Command, io: Io): void {
  migrate.command('diff').description('compare the live schema with what its applied migrations make; exit 6 when they differ')
    .option('--scratch-url <url>', 'server for the throwaway database the migrations are built in (default: this one)')
    .option('--sql', 'print only the SQL that would make the database match the migrations')
    .addHelpText('after', `
Examples:
  $ sagactl migrate diff
  $ sagactl migrate diff --sql > reconcile.sql     review it before running anything
  $ sagactl migrate diff --json --scratch-url postgres://ci@localhost:5433/postgres`)
    .action(withApp<{ scratchUrl?: string; sql?: boolean }, string | undefined>(io, 'migrate-diff', (ctx) => scratchUrl(ctx.opts.scratchUrl),
      async (app, scratch, ctx) => {
        const drift = await load.drift().checkDrift(app.db, load.loader().loadMigrations(), { scratchUrl: scratch, log: ctx.out.info });
        if (ctx.opts.sql && !ctx.out.json) drift.sql.forEach((s) => ctx.out.print(`${s};`));
        else ctx.out.result(drift, () => printDrift(ctx.out.print, drift));
        if (!drift.ok) throw new OutcomeExit(EXIT.checkFailed);
      }));
}
