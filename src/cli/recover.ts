import { Command } from 'commander';
import { Io } from './io';
import { Ctx, withApp } from './adapter';
import { Output } from './output';
import { assertCanPrompt } from './prompts';
import { addFilterOptions, FILTERS_HELP, FilterFlags, parseFilter } from './filters';
import { addBulkOptions, assertBulkOutcome, BulkFlags, Pacing, parsePacing, renderChanges, runBulkCommand } from './bulk';
import { parseReason } from './reason';
import { UsageError } from '../errors';
import type { SagaClient } from '../client';
import type { RecoverReport, RecoverResult, Strategy } from '../operator/recover';
import type { BulkRequest } from '../operator/bulk-select';
import type { SagaFilter } from '../saga/filter';

const validate = () => require('../saga/validate') as typeof import('../saga/validate');
const actionFor = () => (require('../operator/recover') as typeof import('../operator/recover')).actionFor;
const nextBatch: typeof import('../operator/bulk-select').nextBatch = (...a) =>
  (require('../operator/bulk-select') as typeof import('../operator/bulk-select')).nextBatch(...a);

type RecFlags = FilterFlags & BulkFlags & { strategy?: string; dryRun?: boolean; reason?: string; lease: string };
interface RecInput { filter: SagaFilter; olderThanMs: number; strategy?: Strategy; pacing: Pacing; leaseMs: number; reason: string }

export function registerRecover(saga: Command, io: Io): void {
  const cmd = saga.command('recover').description('claim stuck sagas (selected by FILTERS) and finish them (resume) or undo them (compensate), from their records');
  addFilterOptions(cmd, { stuck: false });
  addBulkOptions(cmd)
    .option('--strategy <strategy>', 'resume | compensate (sagas that were compensating always go on compensating)')
    .option('--dry-run', 'print what would be done and write nothing')
    .option('--reason <text>', 'recorded in operator_audit', 'saga recover')
    .option('--lease <duration>', 'how long this process holds each saga', '30s')
    .addHelpText('after', `${FILTERS_HELP}
recover only ever takes stuck sagas in flight (--stuck is implied); compensation_failed ones wait for saga retry.
Several recoverers may run at once: each claims different sagas (SKIP LOCKED), never one that moved
within --older-than. A saga whose records and ledger disagree is left alone and reported (exit 3).
Exit: 0 every claimed saga reached a final status, 2 bad input, 3 some were refused, 5 a compensation failed, 6 the guard stopped the run.
Examples:
  $ sagactl saga recover --dry-run
  $ sagactl saga recover --older-than 5m --mode choreography --yes
  $ sagactl saga recover --user user-123 --what-if
  $ sagactl saga recover --strategy compensate --rate 20/s --yes --reason "INC-7: undo everything in flight"`)
    .action(withApp<RecFlags, RecInput>(io, 'saga-recover', parseRecover, async (app, input, ctx) => {
      const client = app.client({ leaseMs: input.leaseMs });
      const request = { action: 'recover' as const, filter: input.filter, strategy: input.strategy, olderThanMs: input.olderThanMs };
      if (ctx.opts.dryRun) return recoverDryRun(client, ctx, request, input);
      const { plan, report, changes } = await runBulkCommand(client, io, ctx, { request, pacing: input.pacing, reason: input.reason,
        verb: 'Recover', label: 'recovering', resume: 'Each saga recovered is done whole; run `sagactl saga recover` again for the rest.' });
      // Sagas another recoverer claimed first are counted, not listed, as they always were.
      const results = (report?.results ?? []).filter((r) => r.outcome !== 'skipped') as unknown as RecoverResult[];
      const summary = { results, skipped: report?.counts.skipped ?? 0, refused: report?.counts.refused ?? 0 };
      ctx.out.result({ ...summary, ...(report ? { bulk: plan, ...report, results } : {}), ...(changes ? { whatIf: true, changes } : {}) }, () => {
        renderRecovered(ctx.out, summary, plan.sagas);
        if (changes) renderChanges(ctx.out, changes);
      });
      // A saga another recoverer claimed first is theirs to finish: not a refusal.
      if (report && !changes) assertBulkOutcome(report, ['completed', 'failed', 'compensated', 'skipped']);
    }));
}

async function recoverDryRun(client: SagaClient, ctx: Ctx<RecFlags>, request: BulkRequest, input: RecInput): Promise<void> {
  const plan = await client.planBulk({ ...request, limit: input.pacing.limit ?? 1000 });
  const rows = await nextBatch(client.db, request, '', Math.min(plan.sagas, 1000) || 1);
  const list = rows.slice(0, plan.sagas).map((c) => ({ transactionId: c.transactionId, status: c.status, mode: c.mode, why: c.why, action: actionFor()(c, input.strategy) }));
  ctx.out.result({ dryRun: true, plan: list, bulk: plan }, () => {
    ctx.out.table(['transaction id', 'status', 'mode', 'why', 'would'], list.map((p) => [p.transactionId, p.status, p.mode, p.why, p.action]),
      { empty: 'no stuck sagas to recover', drop: ['mode', 'why'] });
    if (list.length === 0) return;
    ctx.out.print(`refund ${plan.refund}, restock ${plan.restock}`);
    ctx.out.print(`${plan.sagas} saga(s) would be recovered`);
  });
}

function parseRecover(ctx: Ctx<RecFlags>): RecInput {
  const o = ctx.opts;
  if (o.strategy !== undefined && o.strategy !== 'resume' && o.strategy !== 'compensate') {
    throw new UsageError(`--strategy must be resume or compensate, got "${o.strategy}".`);
  }
  const filter = parseFilter(o, { alwaysStuck: true });
  const parsed = {
    filter,
    olderThanMs: filter.stuck!.olderThanMs,
    strategy: o.strategy as Strategy | undefined,
    pacing: parsePacing(o),
    leaseMs: validate().parseLease(o.lease),
    reason: parseReason(o.reason, !o.dryRun),
  };
  if (!o.dryRun && !o.whatIf) assertCanPrompt(ctx.io, o.yes);
  return parsed;
}

function renderRecovered(out: Output, report: Pick<RecoverReport, 'results' | 'skipped' | 'refused'>, found: number): void {
  if (report.results.length > 0) {
    out.table(['transaction id', 'mode', 'before', 'action', 'after', 'detail'],
      report.results.slice(0, 200).map((x) => [x.transactionId, x.mode, x.before, x.action, x.after, x.detail ?? '']), { drop: ['mode', 'before'] });
  }
  const recovered = report.results.length - report.refused;
  const parts = [`${recovered} recovered of ${found} stuck`];
  if (report.refused > 0) parts.push(`${report.refused} refused (records and ledger disagree: see saga compensate --dry-run)`);
  if (report.skipped > 0) parts.push(`${report.skipped} skipped (claimed by another recoverer, or moved again)`);
  out.print(parts.join('; '));
}
