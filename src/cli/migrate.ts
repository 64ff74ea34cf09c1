import { Command } from 'commander';
import { Io } from './io';
import { Ctx, withApp, withoutApp } from './adapter';
import { assertCanPrompt, confirm } from './prompts';
import { parseDuration, parseIntOption } from '../duration';
import { OutcomeExit, EXIT, UsageError } from '../errors';
import type { App } from '../app';

interface LockOpts { lockTimeout: string }

/** The migration core, loaded only when a migrate command runs (never for --help). */
function core() {
  return {
    ...(require('../migrate/loader') as typeof import('../migrate/loader')),
    ...(require('../migrate/runner') as typeof import('../migrate/runner')),
    ...(require('../migrate/plan') as typeof import('../migrate/plan')),
    ...(require('../migrate/create') as typeof import('../migrate/create')),
  };
}

function deps(app: App, ctx: Ctx<LockOpts>, migrations: import('../migrate/loader').Migration[]) {
  return { db: app.db, migrations, lockTimeoutMs: parseDuration(ctx.opts.lockTimeout, '--lock-timeout'), log: ctx.out.info };
}

export function registerMigrate(program: Command, io: Io): void {
  const migrate = program.command('migrate').description('run, revert, check and plan the schema migrations')
    .addHelpText('after', `
Examples:
  $ sagactl migrate up                      apply everything pending
  $ sagactl migrate status --check --json   CI gate: exit 6 when pending or changed
  $ sagactl migrate plan                    print the SQL up would run, touching nothing
  $ sagactl migrate down --count 1 --yes    revert the newest migration`);

  migrate.command('up').description('apply pending migrations, each in its own transaction')
    .option('--to <name>', 'stop after this migration')
    .option('--lock-timeout <duration>', 'how long to wait for another run to finish', '60s')
    .addHelpText('after', '\nExamples:\n  $ sagactl migrate up\n  $ sagactl migrate up --to 1764000000000-create-tables --lock-timeout 5m')
    .action(withApp<LockOpts & { to?: string }, void>(io, 'migrate-up',
      (ctx) => void parseDuration(ctx.opts.lockTimeout, '--lock-timeout'),
      async (app, _input, ctx) => {
        const m = core();
        const ran = await m.runUp(deps(app, ctx, m.loadMigrations()), { to: ctx.opts.to });
        ctx.out.result({ ran }, () => {
          if (ran.length === 0) ctx.out.print('Nothing to apply: the schema is up to date.');
          for (const r of ran) ctx.out.print(`${ctx.out.color.green('applied')} ${r.name} (${r.durationMs} ms)`);
        });
      }));

  migrate.command('down').description('revert applied migrations (newest first)')
    .option('--count <n>', 'how many to revert (default 1)')
    .option('--to <name>', 'revert everything applied after this migration; 0 reverts all')
    .option('--lock-timeout <duration>', 'how long to wait for another run to finish', '60s')
    .addHelpText('after', '\nExamples:\n  $ sagactl migrate down --yes\n  $ sagactl migrate down --to 0 --yes      revert everything')
    .action(withApp<LockOpts & { count?: string; to?: string }, { count?: number; to?: string }>(io, 'migrate-down',
      (ctx) => {
        if (ctx.opts.count !== undefined && ctx.opts.to !== undefined) throw new UsageError('Give --count or --to, not both.');
        parseDuration(ctx.opts.lockTimeout, '--lock-timeout');
        assertCanPrompt(io, ctx.opts.yes);
        const count = ctx.opts.count === undefined ? undefined : parseIntOption(ctx.opts.count, '--count', 1, 100_000);
        return { count, to: ctx.opts.to };
      },
      async (app, input, ctx) => {
        const m = core();
        const migrations = m.loadMigrations();
        const chosen = m.selectToRevert(await m.getStatus(app.db, migrations), migrations, input);
        if (chosen.length === 0) return ctx.out.result({ ran: [] }, () => ctx.out.print('Nothing to revert.'));
        const ok = await confirm(io, ctx.opts.yes, `Revert ${chosen.map((c) => c.name).join(', ')}?`);
        if (!ok) throw new UsageError('Not confirmed; nothing reverted.');
        const ran = await m.runDown(deps(app, ctx, migrations), { ...input, expected: chosen.map((c) => c.name) });
        ctx.out.result({ ran }, () => ran.forEach((r) => ctx.out.print(`${ctx.out.color.yellow('reverted')} ${r.name} (${r.durationMs} ms)`)));
      }));

  migrate.command('status').description('applied and pending migrations')
    .option('--check', 'exit 6 when anything is pending or an applied migration changed')
    .addHelpText('after', '\nExamples:\n  $ sagactl migrate status\n  $ sagactl migrate status --check --json')
    .action(withApp<{ check?: boolean }, void>(io, 'migrate-status', () => undefined, async (app, _input, ctx) => {
      const m = core();
      const status = await m.getStatus(app.db, m.loadMigrations());
      ctx.out.result(status, () => {
        const changed = new Set(status.changed.map((c) => c.name));
        const missing = new Set(status.missing.map((c) => c.name));
        ctx.out.table(['migration', 'state', 'applied at', 'by'], [
          ...status.applied.map((a) => [a.name,
            changed.has(a.name) ? ctx.out.color.red('CHANGED') : missing.has(a.name) ? ctx.out.color.red('MISSING FILE') : ctx.out.color.green('applied'),
            new Date(a.appliedAt).toISOString(), `${a.appliedBy}@${a.host}`]),
          ...status.pending.map((p) => [p.name, ctx.out.color.yellow('pending'), '', '']),
        ]);
        ctx.out.print(`${status.applied.length} applied, ${status.pending.length} pending, ${status.changed.length} changed`);
      });
      if (ctx.opts.check && (status.pending.length > 0 || status.changed.length > 0 || status.missing.length > 0)) {
        throw new OutcomeExit(EXIT.checkFailed);
      }
    }));

  migrate.command('plan').description('print the SQL `up` would run, with transaction boundaries; executes nothing')
    .option('--to <name>', 'plan up to this migration')
    .addHelpText('after', '\nExamples:\n  $ sagactl migrate plan\n  $ sagactl migrate plan --json')
    .action(withApp<{ to?: string }, void>(io, 'migrate-plan', () => undefined, async (app, _input, ctx) => {
      const m = core();
      const plan = await m.buildPlan(app.db, m.loadMigrations(), { to: ctx.opts.to });
      ctx.out.result({ plan }, () => {
        if (plan.length === 0) ctx.out.print('-- nothing to apply');
        for (const p of plan) {
          ctx.out.print(`-- ${p.name}: ${p.transactional ? 'one transaction' : 'outside a transaction, statement by statement'}`);
          for (const s of p.statements) ctx.out.print(`${s.sql};${s.params ? `  -- params: ${JSON.stringify(s.params)}` : ''}`);
          ctx.out.print('');
        }
      });
    }));

  migrate.command('create <name>').description('write a new timestamped migration file in migrations/')
    .addHelpText('after', '\nExamples:\n  $ sagactl migrate create add-user-email')
    .action(withoutApp<object>(io, async (ctx) => {
      const m = core();
      const created = m.createMigrationFile(ctx.args[0]);
      ctx.out.result(created, () => ctx.out.print(`created ${created.file}\nRun \`npm run build\` before \`sagactl migrate up\`.`));
    }));

  migrate.command('validate').description('compare applied migrations with their sources (checksums); exit 6 on a difference')
    .addHelpText('after', '\nExamples:\n  $ sagactl migrate validate --json')
    .action(withApp<object, void>(io, 'migrate-validate', () => undefined, async (app, _input, ctx) => {
      const m = core();
      const status = await m.getStatus(app.db, m.loadMigrations());
      const ok = status.changed.length === 0 && status.missing.length === 0;
      ctx.out.result({ ok, changed: status.changed, missing: status.missing }, () => {
        for (const c of status.changed) ctx.out.print(`${ctx.out.color.red('changed')} ${c.name}: recorded ${c.recorded}, now ${c.current}`);
        for (const c of status.missing) ctx.out.print(`${ctx.out.color.red('missing')} ${c.name}: applied, but its file is gone`);
        if (ok) ctx.out.print(`All ${status.applied.length} applied migrations match their sources.`);
      });
      if (!ok) throw new OutcomeExit(EXIT.checkFailed);
    }));
}
