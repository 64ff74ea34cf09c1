import { Command } from 'commander';
import { Io } from './io';
import { withApp } from './adapter';
import { assertCanPrompt, confirm } from './prompts';
import { StateError, UsageError } from '../errors';
import { PG, pgCode } from '../db/pg-errors';
import { GenerateFlags, GenerateOptions, parseGenerateOptions } from '../seed/generate';

export function registerSeed(program: Command, io: Io): void {
  const seed = program.command('seed').description('load fixture users and items, or generate large deterministic data sets')
    .addHelpText('after', `
Examples:
  $ sagactl seed fixtures
  $ sagactl seed generate --users 1000000 --items 1000 --seed 42
  $ sagactl seed reset --yes`);

  seed.command('fixtures').description("load the design's users and items (idempotent)")
    .option('--reset', 'put fixture rows that changed back to their fixture values')
    .addHelpText('after', '\nExamples:\n  $ sagactl seed fixtures\n  $ sagactl seed fixtures --reset')
    .action(withApp<{ reset?: boolean }, void>(io, 'seed-fixtures', () => undefined, async (app, _i, ctx) => {
      const { loadFixtures } = (require('../seed/fixtures') as typeof import('../seed/fixtures'));
      const result = await needsSchema(() => loadFixtures(app.db, { reset: ctx.opts.reset }));
      ctx.out.result(result, () => {
        ctx.out.print(`users: ${result.users.inserted} inserted, ${result.users.reset} reset`);
        ctx.out.print(`items: ${result.items.inserted} inserted, ${result.items.reset} reset`);
      });
    }));

  seed.command('generate').description('generate deterministic users, items and sagas with COPY')
    .option('--users <n>', 'how many users (gen-user-0000001 ...)')
    .option('--items <n>', 'how many items (gen-item-000001 ...)')
    .option('--seed <s>', 'seed of the generator: the same seed gives the same rows', '1')
    .option('--balance <amount>', 'every user gets this balance (default: drawn 1000.00-100000.00)')
    .option('--stock <n>', 'every item gets this stock (default: drawn 1000-100000)')
    .option('--sagas <n>', 'how many sagas (gen-saga-0000000001 ...): mostly completed, some failed, compensated, stuck')
    .option('--days <d>', 'with --sagas: spread them over this many days before --end (default 30)')
    .option('--end <time>', 'with --sagas: the end of their window, ISO-8601 or a duration ago (default: now, to the minute)')
    .addHelpText('after', '\nExamples:\n  $ sagactl seed generate --users 100 --items 10 --balance 1000000.00 --stock 1000000\n  $ sagactl seed generate --users 1000000 --json' +
      '\n  $ sagactl seed generate --sagas 10000000 --days 30     statistics at scale (sagactl stats)')
    .action(withApp<GenerateFlags, GenerateOptions>(io, 'seed-generate', (ctx) => parseGenerateOptions(ctx.opts),
      async (app, opts, ctx) => {
        const { generateRows } = (require('../seed/copy') as typeof import('../seed/copy'));
        const result = await ctx.out.withProgress({ label: 'seeding', unit: 'rows', total: opts.users + opts.items + (opts.sagas ?? 0),
          resume: 'Each table is loaded in one transaction: the one in progress was rolled back, those before it are kept. ' +
            'Run the same command again to finish; rows that exist are kept.' },
        (progress) => needsSchema(() => generateRows(app.db, opts, (done, total) => progress.tick(done, total))));
        ctx.out.result({ seed: opts.seed, ...result }, () => ctx.out.print(describeGenerated(opts.seed, result)));
      }));

  seed.command('reset').description('empty the domain tables (users, items, sagas and their rows)')
    .addHelpText('after', '\nExamples:\n  $ sagactl seed reset --yes')
    .action(withApp<object, void>(io, 'seed-reset', (ctx) => assertCanPrompt(io, ctx.opts.yes), async (app, _i, ctx) => {
      const { resetDomain, DOMAIN_TABLES } = (require('../seed/fixtures') as typeof import('../seed/fixtures'));
      if (!(await confirm(io, ctx.opts.yes, `Empty ${DOMAIN_TABLES.join(', ')}?`))) {
        throw new UsageError('Not confirmed; nothing emptied.');
      }
      await needsSchema(() => resetDomain(app.db));
      ctx.out.result({ emptied: DOMAIN_TABLES }, () => ctx.out.print(`emptied ${DOMAIN_TABLES.join(', ')}`));
    }));
}

/** "users 1000, items 10 (seed 1): 1010 new, 0 existed, in 0.41 s (2463 rows/s)": only what was really written counts as new. */
export function describeGenerated(seed: number, r: import('../seed/copy').GenerateResult): string {
  const asked = [`${r.users} users`, `${r.items} items`, ...(r.sagas === undefined ? [] : [`${r.sagas} sagas`])].join(', ');
  return `seeded ${asked} (seed ${seed}): ${r.inserted} new, ${r.skipped} existed, in ${r.seconds.toFixed(2)} s` +
    (r.inserted > 0 ? ` (${r.rowsPerSecond} rows/s written)` : '');
}

/** Seeding writes the migrated tables: before `migrate up` that is a state to fix (exit 3), not an internal error. */
async function needsSchema<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (pgCode(err) !== PG.undefinedTable) throw err;
    throw new StateError(`The schema is not migrated: ${(err as Error).message}.`, 'Run `sagactl migrate up` first.');
  }
}
