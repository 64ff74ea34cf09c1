import { Command } from 'commander';
import { Io } from './io';
import { Ctx, withApp } from './adapter';
import { Output } from './output';
import { assertCanPrompt, confirm } from './prompts';
import { addFilterOptions, FILTERS_HELP, FilterFlags, parseFilter, parseOlderThan } from './filters';
import { addBulkOptions, assertBulkOutcome, assertNoPacingWithIds, BulkFlags, Pacing, parsePacing, renderChanges, runBulkCommand } from './bulk';
import { parseReason, whatIfReason } from './reason';
import { EXIT, OutcomeExit, UsageError } from '../errors';
import { parseId } from '../saga/validate';
import { isEmptyFilter, SagaFilter } from '../saga/filter';
import type { RetryResult } from '../operator/retry';

type Flags = FilterFlags & BulkFlags & { reason?: string; lease: string };
interface Input { filter: SagaFilter; olderThanMs: number; pacing: Pacing; reason: string; leaseMs: number }

/** What redrives: the success outcomes of a retry (anything else was refused, busy, or failed again). */
const REDRIVEN = ['resent', 'compensated', 'completed', 'failed'];

export function registerRetry(saga: Command, io: Io): void {
  const cmd = saga.command('retry [txid...]').description('redrive sagas after their cause was fixed: re-attempt a failed undo, re-send a failed notification, resume a stuck saga');
  addFilterOptions(cmd);
  addBulkOptions(cmd)
    .option('--reason <text>', 'why (required for a real run; recorded in operator_audit)')
    .option('--lease <duration>', 'how long this process holds each saga', '30s')
    .addHelpText('after', `${FILTERS_HELP}
What is redriven, by saga: compensation_failed: its undos left are applied again (verified against the
ledger); completed with a failed notification: the notification is sent again (status sent, attempts + 1);
stuck in flight: resumed from its last committed step. Anything else is refused with the reason.
Exit: 0 everything redriven, 2 bad input, 3 nothing to redrive (the reason per saga), 5 an undo failed again, 6 the guard stopped the run.
Examples:
  $ sagactl saga retry 4f0c... --reason "INC-12: notification service back" --yes
  $ sagactl saga retry --status compensation_failed --what-if
  $ sagactl saga retry --error-code NOTIFICATION_FAILED --since 1d --rate 20/s --reason "INC-12: SMTP fixed" --yes`)
    .action(withApp<Flags, Input>(io, 'saga-retry', parse, async (app, input, ctx) => {
      const client = app.client({ leaseMs: input.leaseMs });
      if (ctx.args.length > 0) return retryIds(client, ctx, input);
      const { plan, report, changes } = await runBulkCommand(client, io, ctx, { request: { action: 'retry', filter: input.filter, olderThanMs: input.olderThanMs },
        pacing: input.pacing, reason: input.reason, verb: 'Retry', label: 'retrying', resume: 'Each saga redriven is done whole; run the same command again for the rest.' });
      if (!report) {
        ctx.out.result({ bulk: plan, results: [] }, () => {
          ctx.out.print(`Nothing to redrive among the sagas selected by ${plan.description}.`);
          for (const a of plan.leftAlone) ctx.out.print(`  ${a.sagas} ${a.status}: ${a.why}`);
        });
        const why = plan.leftAlone.map((a) => `${a.sagas} ${a.status}: ${a.why}`).join('; ');
        throw new OutcomeExit(EXIT.notFound, `nothing to redrive${why ? `: ${why}` : ': no saga matches'}`);
      }
      ctx.out.result({ ...(changes ? { whatIf: true } : {}), bulk: plan, ...report, ...(changes ? { changes } : {}) }, () => {
        renderRetried(ctx.out, report.results as unknown as RetryResult[]);
        if (changes) renderChanges(ctx.out, changes);
      });
      if (!changes) assertBulkOutcome(report, REDRIVEN);
    }));
}

function parse(ctx: Ctx<Flags>): Input {
  const o = ctx.opts;
  const filter = parseFilter(o);
  const hasFilter = !isEmptyFilter(filter);
  if (ctx.args.length > 0 && hasFilter) throw new UsageError('Give transaction ids or FILTERS, not both.');
  if (ctx.args.length === 0 && !hasFilter) throw new UsageError('Name the sagas to redrive: transaction ids, or FILTERS (--status compensation_failed, --stuck ...).');
  assertNoPacingWithIds(o, ctx.args);
  for (const id of ctx.args) parseId(id, 'TXID', 100);
  const { parseLease } = require('../saga/validate') as typeof import('../saga/validate');
  const parsed = {
    filter,
    olderThanMs: parseOlderThan(o.olderThan),
    pacing: parsePacing(o),
    reason: o.whatIf ? whatIfReason(o.reason) : parseReason(o.reason, true),
    leaseMs: parseLease(o.lease),
  };
  if (!o.whatIf) assertCanPrompt(ctx.io, o.yes);
  return parsed;
}

async function retryIds(client: import('../client').SagaClient, ctx: Ctx<Flags>, input: Input): Promise<void> {
  const ids = [...new Set(ctx.args)];
  const request = { reason: input.reason, olderThanMs: input.olderThanMs };
  if (ctx.opts.whatIf) {
    const { result, changes } = await client.whatIf((c) => c.retry(ids, request));
    return ctx.out.result({ whatIf: true, results: result, changes }, () => { renderRetried(ctx.out, result); renderChanges(ctx.out, changes); });
  }
  if (!(await confirm(ctx.io, ctx.opts.yes, `Retry ${ids.length} saga(s)?`))) throw new UsageError('Not confirmed; nothing done.');
  const results = await client.retry(ids, request);
  ctx.out.result({ results }, () => renderRetried(ctx.out, results));
  const failed = results.filter((r) => r.outcome === 'compensation_failed').length;
  if (failed > 0) throw new OutcomeExit(EXIT.compensationFailed, `${failed} of ${results.length} undo(s) failed again`);
  const refused = results.filter((r) => !REDRIVEN.includes(r.outcome));
  if (refused.length > 0) {
    throw new OutcomeExit(EXIT.notFound, `${refused.length} of ${results.length} saga(s) not redriven: ${refused.map((r) => `${r.transactionId}: ${r.detail}`).join('; ')}`);
  }
}

function renderRetried(out: Output, results: RetryResult[]): void {
  out.table(['transaction id', 'before', 'action', 'outcome', 'detail'], results.slice(0, 200).map((r) => [r.transactionId, r.before ?? '-', r.action,
    REDRIVEN.includes(r.outcome) ? out.color.green(r.outcome) : out.color.red(r.outcome), r.detail ?? '']), { empty: 'nothing was redriven', drop: ['before'] });
}
