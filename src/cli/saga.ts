import { Command } from 'commander';
import { Io } from './io';
import { Ctx, withApp } from './adapter';
import { Output } from './output';
import { bars, sparkline } from './charts';
import { registerOperator } from './operator';
import { addExplainOptions, explainAndTerminate, ExplainFlags, ExplainInput, parseExplain } from './stuck';
import { addFilterOptions, FILTERS_HELP, FilterFlags, parseFilter } from './filters';
import { EXIT, OutcomeExit, UsageError } from '../errors';
import { parseIntOption } from '../duration';
import type { App } from '../app';
import type { SagaView, ListFilters } from '../saga/queries';
import type { PurchaseRequest } from '../saga/types';
import type { LoadOptions } from '../saga/load';

const queries = () => require('../saga/queries') as typeof import('../saga/queries');
const validate = () => require('../saga/validate') as typeof import('../saga/validate');

export function exitCodeOf(status: string): number {
  if (status === 'completed') return EXIT.ok;
  if (status === 'compensation_failed') return EXIT.compensationFailed;
  return EXIT.sagaNotCompleted;
}

function statusColour(out: Output, status: string): string {
  if (status === 'completed' || status === 'succeeded') return out.color.green(status);
  if (status === 'compensated' || status === 'compensating') return out.color.yellow(status);
  if (status === 'in_progress' || status === 'pending') return out.color.cyan(status);
  return out.color.red(status);
}

/** "2026-11-24 10:15:02" (UTC, like the database): a moment in a table, without the noise of ISO's T and Z. */
export const utcTime = (at: Date | string | null) => (at === null ? '' : new Date(at).toISOString().slice(0, 19).replace('T', ' '));

export function renderSaga(out: Output, s: SagaView): void {
  out.print(`${out.color.bold(s.transactionId)}  ${statusColour(out, s.status)}  (${s.mode})`);
  out.print(`${s.userId} buys ${s.quantity} x ${s.itemId} at ${s.price} = ${s.total}`);
  out.print(`created ${new Date(s.createdAt).toISOString()}` + (s.completedAt ? `, completed ${new Date(s.completedAt).toISOString()}` : ''));
  if (s.errorCode) out.print(`error: ${s.errorCode}: ${s.errorMessage ?? ''}`);
  // The timeline: when each step ran (UTC, to the millisecond), forward and compensation.
  out.table(['step', 'kind', 'status', 'at (UTC)', 'ms', 'error', 'data'], s.steps.map((st) => [
    st.step, st.kind, statusColour(out, st.status), new Date(st.executedAt).toISOString().slice(11, 23), st.durationMs?.toFixed(2),
    st.errorCode ?? '', st.data ? JSON.stringify(st.data) : '',
  ]), { empty: 'no step has run yet', drop: ['kind', 'ms', 'error'] });
}

export function registerSaga(program: Command, io: Io): void {
  const cmd = program.command('saga').description('execute purchase sagas in-process, inspect them')
    .addHelpText('after', `
Examples:
  $ sagactl saga run --user user-123 --item item-sword
  $ sagactl saga list --status compensated --since 2h
  $ sagactl saga show <transaction-id> --json
  $ sagactl saga load --count 10000 --concurrency 32
  $ sagactl saga stuck
  $ sagactl saga compensate --stuck --dry-run
  $ sagactl saga recover --yes`);

  type RunFlags = { user?: string; item?: string; qty?: string; mode?: string; id?: string; failAt?: string; lease: string; batch?: boolean };
  cmd.command('run').description('run one purchase saga to its end and print its timeline')
    .option('--user <id>', 'the buyer (users.user_id)')
    .option('--item <id>', 'the item (items.item_id)')
    .option('--qty <n>', 'quantity, 1 to 10000', '1')
    .option('--mode <mode>', 'orchestration | choreography', 'orchestration')
    .option('--id <txid>', 'transaction id; running an existing id again reports it and executes nothing')
    .option('--fail-at <step>', 'inject a failure at validate_user | reserve_inventory | log_transaction | send_notification')
    .option('--lease <duration>', 'how long the saga is held before others may recover it; extended as steps commit', '30s')
    .option('--no-batch', 'one statement per saga step (no group execution), for comparison')
    .addHelpText('after', `
Exit: 0 completed, 7 failed or compensated, 5 a compensation failed.
Examples:
  $ sagactl saga run --user user-123 --item item-sword
  $ sagactl saga run --user user-123 --item item-potion --qty 2 --mode choreography --id order-42
  $ sagactl saga run --user user-123 --item item-sword --fail-at log_transaction --json`)
    .action(withApp<RunFlags, PurchaseRequest & { leaseMs: number }>(io, 'saga-run',
      (ctx) => ({ ...validate().parsePurchase(ctx.opts), leaseMs: validate().parseLease(ctx.opts.lease) }),
      async (app, req, ctx) => {
        const outcome = await app.client({ leaseMs: req.leaseMs, grouping: ctx.opts.batch !== false }).purchaseOutcome(
          { userId: req.userId, itemId: req.itemId, quantity: req.quantity, mode: req.mode, id: req.transactionId, failAt: req.failAt });
        const view = await queries().getSaga(app.db, outcome.transactionId);
        ctx.out.result(view, () => {
          if (!outcome.executed) ctx.out.info(`saga ${view.transactionId} exists already; nothing was executed`);
          renderSaga(ctx.out, view);
        });
        const code = exitCodeOf(view.status);
        if (code !== EXIT.ok) {
          throw new OutcomeExit(code as typeof EXIT[keyof typeof EXIT], `saga ${view.transactionId} ended ${view.status}${view.errorCode ? ` (${view.errorCode})` : ''}`);
        }
      }));

  addExplainOptions(cmd.command('show <txid>').description('one saga and its whole timeline'))
    .addHelpText('after', `
With --explain, the JSON gains "forensics": the sessions holding or waiting on the saga's rows and
the process behind its lease (see saga stuck --help; docs/runbook.md "who is holding this saga").
Examples:
  $ sagactl saga show 4f0c...
  $ sagactl saga show order-42 --json
  $ sagactl saga show order-42 --explain
  $ sagactl saga show order-42 --explain --terminate-blocker --reason "INC-12: psql left open"`)
    .action(withApp<ExplainFlags, ExplainInput & { id: string }>(io, 'saga-show',
      (ctx) => ({ id: validate().parseId(ctx.args[0], 'TXID', 100), ...parseExplain(ctx) }),
      async (app, input, ctx) => {
        const view = await app.client().getSaga(input.id);
        if (!input.explain) return ctx.out.result(view, () => renderSaga(ctx.out, view));
        await explainAndTerminate(app, ctx, input, [input.id], view, () => renderSaga(ctx.out, view));
      }));

  type ListFlags = FilterFlags & { limit: string; after?: string };
  addFilterOptions(cmd.command('list').description('sagas, newest first, selected by FILTERS, with keyset paging'))
    .option('--limit <n>', 'rows per page, 1 to 1000', '50')
    .option('--after <cursor>', 'the next page: the cursor the previous page printed')
    .addHelpText('after', `${FILTERS_HELP}\n\nExamples:\n  $ sagactl saga list --status compensated --since 2h\n  $ sagactl saga list --user user-123 --limit 20 --json\n  $ sagactl saga list --error-code INSUFFICIENT_STOCK --item item-sword --step validate_user`)
    .action(withApp<ListFlags, ListFilters>(io, 'saga-list', (ctx) => parseListFilters(ctx), async (app, filters, ctx) => {
      const page = await app.client().listSagas(filters);
      ctx.out.result(page, () => {
        if (page.sagas.length === 0) return ctx.out.print('no sagas match');
        ctx.out.table(['transaction id', 'status', 'mode', 'user', 'item', 'qty', 'total', 'error', 'created (UTC)'],
          page.sagas.map((s) => [s.transactionId, statusColour(ctx.out, s.status), s.mode, s.userId, s.itemId, s.quantity,
            s.total, s.errorCode, utcTime(s.createdAt)]), { keep: ['status'], drop: ['mode', 'error', 'user', 'created (UTC)'] });
        ctx.out.print(`${page.sagas.length} shown of ${page.countIsEstimate ? 'about ' : ''}${page.count} matching`);
        if (page.nextCursor) ctx.out.print(`next page: --after ${page.nextCursor}`);
      });
    }));

  type LoadFlags = { count: string; concurrency: string; mode?: string; user?: string; item?: string; qty: string; seed: string; lease: string; batch?: boolean };
  cmd.command('load').description('load test: N purchases in-process, C in flight, with latency figures')
    .option('--count <n>', 'how many purchases', '1000')
    .option('--concurrency <c>', 'purchases in flight at a time', '16')
    .option('--mode <mode>', 'orchestration | choreography', 'orchestration')
    .option('--user <id>', 'always this user (default: random seeded users)')
    .option('--item <id>', 'always this item (default: random seeded items)')
    .option('--qty <n>', 'quantity per purchase', '1')
    .option('--seed <s>', 'seed of the random choice of users and items', '1')
    .option('--lease <duration>', 'how long each saga is held before others may recover it', '30s')
    .option('--no-batch', 'one statement per saga step (no group execution), for comparison')
    .addHelpText('after', '\nExamples:\n  $ sagactl seed generate --users 100 --items 10 --balance 1000000.00 --stock 1000000\n  $ sagactl saga load --count 20000 --concurrency 32 --json')
    .action(withApp<LoadFlags, LoadOptions & { leaseMs: number }>(io, 'saga-load',
      (ctx) => ({ ...parseLoadOptions(ctx), leaseMs: validate().parseLease(ctx.opts.lease) }), async (app, opts, ctx) => {
      const { runLoad } = require('../saga/load') as typeof import('../saga/load');
      const client = app.client({ leaseMs: opts.leaseMs, grouping: ctx.opts.batch !== false });
      const { databaseError } = require('../db/pg-errors') as typeof import('../db/pg-errors');
      // Rejections are results; a purchase the database failed is exit 4, anything else a bug (1).
      let bug = false;
      // After Ctrl-C no purchase starts (those in flight are cancelled by withApp); the rest are
      // counted as not done at once, so the summary is still printed and counts what really ran.
      const interrupted = () => ctx.io.signal?.aborted === true;
      const purchase = (req: PurchaseRequest) => (interrupted() ? Promise.reject(new Error('not started: interrupted'))
        : client.purchaseOutcome(req).catch((err) => {
          if (!databaseError(err) && !interrupted()) bug = true;
          throw err;
        }));
      const result = await ctx.out.withProgress({ label: 'saga load', unit: 'sagas', total: opts.count, stopsOnInterrupt: false },
        (progress) => runLoad(app.db, { run: purchase }, opts, (done) => interrupted() || progress.tick(done)));
      ctx.out.result(result, () => renderLoad(ctx.out, result));
      if (result.unfinished > 0) {
        ctx.out.warn(`${result.unfinished} saga(s) did not reach a final status: ${result.errors.join('; ')}. ` +
          'Those that started are left for recovery: sagactl saga recover --yes');
        throw new OutcomeExit(bug ? EXIT.internal : EXIT.unreachable, `${result.unfinished} saga(s) did not reach a final status`);
      }
    }));
  registerOperator(cmd, io);
  (require('./archive') as typeof import('./archive')).registerArchive(cmd, io);
}

function parseListFilters(ctx: Ctx<FilterFlags & { limit: string; after?: string }>): ListFilters {
  return {
    ...parseFilter(ctx.opts),
    limit: parseIntOption(ctx.opts.limit, '--limit', 1, 1000),
    after: ctx.opts.after === undefined ? undefined : queries().decodeCursor(ctx.opts.after),
  };
}

function parseLoadOptions(ctx: Ctx<{ count: string; concurrency: string; mode?: string; user?: string; item?: string; qty: string; seed: string; lease: string }>): LoadOptions {
  const v = validate();
  const o = ctx.opts;
  return {
    count: parseIntOption(o.count, '--count', 1, 10_000_000),
    concurrency: parseIntOption(o.concurrency, '--concurrency', 1, 1000),
    mode: v.parseMode(o.mode),
    quantity: parseIntOption(o.qty, '--qty', 1, v.MAX_QUANTITY),
    seed: parseIntOption(o.seed, '--seed', 0, 2_147_483_647),
    userId: o.user === undefined ? undefined : v.parseId(o.user, '--user', 50),
    itemId: o.item === undefined ? undefined : v.parseId(o.item, '--item', 50),
  };
}

function renderLoad(out: Output, r: import('../saga/load').LoadResult): void {
  out.print(`${r.count} sagas (${r.mode}, concurrency ${r.concurrency}) in ${r.wallSeconds.toFixed(2)} s: ` +
    `${out.color.bold(String(r.sagasPerSecond))} sagas/s`);
  out.print(`completed ${r.completed}, compensated ${r.compensated}, failed ${r.failed}, ` +
    `compensation failed ${r.compensationFailed}${r.unfinished ? `, unfinished ${r.unfinished}` : ''}`);
  out.print(`latency ms: p50 ${r.latencyMs.p50}  p95 ${r.latencyMs.p95}  p99 ${r.latencyMs.p99}  max ${r.latencyMs.max}`);
  out.print('\nlatency (ms, up to):');
  for (const line of bars(r.histogram.map((h) => ({ label: `≤${h.upToMs}`, value: h.count })))) out.print(line);
  if (r.perSecond.length > 1) out.print(`\nsagas per second over the run: ${sparkline(r.perSecond)} (peak ${Math.max(...r.perSecond)})`);
}
