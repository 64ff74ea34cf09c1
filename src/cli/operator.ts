import { Command } from 'commander';
import { Io } from './io';
import { Ctx, withApp } from './adapter';
import { Output } from './output';
import { registerStuck } from './stuck';
import { assertCanPrompt, chooseMany, confirm } from './prompts';
import { EXIT, OutcomeExit, UsageError } from '../errors';
import type { App } from '../app';
import type { CompensationPlan } from '../operator/plan';
import type { CompensateResult } from '../operator/compensate';
import type { CompensateRequest, SagaClient } from '../client';
import type { StepName } from '../saga/types';
import type { SagaFilter } from '../saga/filter';
import { addFilterOptions, FILTERS_HELP, FilterFlags, parseFilter, parseOlderThan } from './filters';
import { addBulkOptions, assertBulkOutcome, assertNoPacingWithIds, BulkFlags, countsText, Pacing, parsePacing, renderChanges, renderPlan, runBulkCommand } from './bulk';
import { parseReason, whatIfReason } from './reason';
import { registerRecover } from './recover';
import { registerRetry } from './retry';

const validate = () => require('../saga/validate') as typeof import('../saga/validate');
const isEmptyFilter = (f: SagaFilter) => (require('../saga/filter') as typeof import('../saga/filter')).isEmptyFilter(f);


export function registerOperator(saga: Command, io: Io): void {
  registerStuck(saga, io);
  registerCompensate(saga, io);
  registerRecover(saga, io);
  registerRetry(saga, io);
}

type CompFlags = FilterFlags & BulkFlags & { includeCompleted?: boolean; dryRun?: boolean; reason?: string; undo?: string; failAt?: string; lease: string };
interface CompInput { filter: SagaFilter; olderThanMs: number; pacing: Pacing; reason: string; override?: StepName; failAt?: StepName; leaseMs: number }

function registerCompensate(saga: Command, io: Io): void {
  const cmd = saga.command('compensate [txid...]').description('undo sagas by hand, by id or by FILTERS: plan from the records and the ledger, confirm, apply, verify, audit');
  addFilterOptions(cmd);
  addBulkOptions(cmd)
    .option('--include-completed', 'also undo completed purchases (refunds them), by id as by FILTERS')
    .option('--dry-run', 'print the plan (by id) or the count and totals (by FILTERS), write nothing')
    .option('--reason <text>', 'why (required for a real run; recorded in operator_audit)')
    .option('--undo <step>', 'override, after checking by hand: undo this step although its record or ledger movement is missing (audited)')
    .option('--fail-at <step>', 'drills: make the undo of this step fail')
    .option('--lease <duration>', 'how long this process holds each saga', '30s')
    .addHelpText('after', `${FILTERS_HELP}
By FILTERS, the count and the totals (sagas, money to refund, stock to restore, top users and items)
come first, then the confirmation; each saga is compensated in its own transaction, so running the
same command again resumes; after each --batch the guard re-checks db check's money and stock rules
for the users and items touched, and stops the run (exit 6) at the first violation.
A saga whose step records and ledger disagree, or whose user or item shows a movement nobody explained
since it began, is refused (exit 3) with the facts: see docs/runbook.md.
Exit: 0 all compensated and verified, 2 bad input, 3 any refused or not found (the others are still processed),
5 any compensation failed, 6 the guard stopped the run.
Examples:
  $ sagactl saga compensate --stuck --older-than 10m --dry-run
  $ sagactl saga compensate --status compensation_failed --user user-123 --what-if
  $ sagactl saga compensate --status completed --item item-sword --since 2h --include-completed --rate 50/s --batch 200 --reason "INC-77: recall" --yes
  $ sagactl saga compensate 4f0c... --reason "INC-42: stock service down" --yes
  $ sagactl saga compensate order-7 --undo validate_user --reason "INC-9: debit made by the old service, checked by hand"`)
    .action(withApp<CompFlags, CompInput>(io, 'saga-compensate', parseCompensate, async (app, input, ctx) => {
      if (ctx.args.length === 0 && !isEmptyFilter(input.filter)) return compensateBulk(app, input, ctx);
      const ids = await pickIds(app, ctx, input);
      if (ids.length === 0) return ctx.out.result({ plans: [], results: [] }, () => ctx.out.print('Nothing to compensate.'));
      const client = app.client({ leaseMs: input.leaseMs });
      const request = { includeCompleted: ctx.opts.includeCompleted, olderThanMs: input.olderThanMs, override: input.override };
      const plans = await client.planCompensation(ids, request);
      if (ctx.opts.dryRun) {
        ctx.out.result({ dryRun: true, plans }, () => renderPlans(ctx.out, plans));
        const refused = plans.filter((p) => p.refusal).length;
        if (refused > 0) throw new OutcomeExit(EXIT.notFound, `${refused} of ${plans.length} saga(s) would be refused`);
        return;
      }
      const full = { ...request, reason: input.reason, failAt: input.failAt };
      if (ctx.opts.whatIf) {
        const { result, changes } = await client.whatIf((c) => c.compensate(ids, full));
        return ctx.out.result({ whatIf: true, plans, results: result, changes }, () => { renderResults(ctx.out, result); renderChanges(ctx.out, changes); });
      }
      if (!ctx.out.json) renderPlans(ctx.out, plans);
      if (!(await confirm(io, ctx.opts.yes, `Compensate ${plans.filter((p) => !p.refusal).length} saga(s) as planned?`))) {
        throw new UsageError('Not confirmed; nothing compensated.');
      }
      const results = await compensateEach(client, ids, full, ctx.out);
      ctx.out.result({ plans, results }, () => renderResults(ctx.out, results));
      const failed = results.filter((x) => x.outcome === 'compensation_failed').length;
      if (failed > 0) throw new OutcomeExit(EXIT.compensationFailed, `${failed} of ${results.length} compensation(s) failed`);
      const refused = results.filter((x) => x.outcome !== 'compensated').length;
      if (refused > 0) throw new OutcomeExit(EXIT.notFound, `${refused} of ${results.length} saga(s) refused or not found`);
    }));
}

function parseCompensate(ctx: Ctx<CompFlags>): CompInput {
  const o = ctx.opts;
  const filter = parseFilter(o);
  if (ctx.args.length > 0 && !isEmptyFilter(filter)) throw new UsageError('Give transaction ids or FILTERS, not both.');
  if (o.undo !== undefined && ctx.args.length !== 1) throw new UsageError('--undo is an override for one saga: name exactly one transaction id.');
  assertNoPacingWithIds(o, ctx.args);
  if (o.whatIf && o.dryRun) throw new UsageError('--what-if and --dry-run: pick one (--dry-run writes nothing, --what-if writes and rolls back).');
  for (const id of ctx.args) validate().parseId(id, 'TXID', 100);
  const parsed = {
    filter,
    olderThanMs: parseOlderThan(o.olderThan),
    pacing: parsePacing(o),
    reason: o.whatIf ? whatIfReason(o.reason) : parseReason(o.reason, !o.dryRun),
    override: o.undo === undefined ? undefined : validate().parseStep(o.undo, '--undo'),
    failAt: o.failAt === undefined ? undefined : validate().parseStep(o.failAt, '--fail-at'),
    leaseMs: validate().parseLease(o.lease),
  };
  if (ctx.args.length === 0 && isEmptyFilter(filter) && !ctx.io.stdinIsTTY) {
    throw new UsageError('Name the sagas to compensate: transaction ids, or FILTERS (--stuck, --status, --user ...).');
  }
  if (!o.dryRun && !o.whatIf) assertCanPrompt(ctx.io, o.yes);
  return parsed;
}

/** By FILTERS: totals, confirmation, the guarded run (src/cli/bulk.ts). */
async function compensateBulk(app: App, input: CompInput, ctx: Ctx<CompFlags>): Promise<void> {
  const client = app.client({ leaseMs: input.leaseMs });
  const request = { action: 'compensate' as const, filter: input.filter, includeCompleted: ctx.opts.includeCompleted, olderThanMs: input.olderThanMs };
  if (ctx.opts.dryRun) {
    const plan = await client.planBulk({ ...request, limit: input.pacing.limit });
    return ctx.out.result({ dryRun: true, bulk: plan }, () => renderPlan(ctx.out, plan, 'Would compensate'));
  }
  const { plan, report, changes } = await runBulkCommand(client, ctx.io, ctx, { request, pacing: input.pacing, reason: input.reason,
    verb: 'Compensate', label: 'compensating',
    resume: 'Each saga compensated is done whole; run the same command again for the rest (compensated ones are no longer selected).' });
  if (!report) return ctx.out.result({ plans: [], results: [] }, () => ctx.out.print('Nothing to compensate.'));
  const results = report.results as unknown as CompensateResult[];
  ctx.out.result({ ...(changes ? { whatIf: true } : {}), bulk: plan, ...report, ...(changes ? { changes } : {}) }, () => {
    renderResults(ctx.out, results.length <= 200 ? results : results.filter((r) => r.outcome !== 'compensated'));
    ctx.out.print(`${report.outcome}: ${report.processed} processed (${countsText(report.counts)}); refunded ${report.refunded}, restocked ${report.restocked}`);
    if (changes) renderChanges(ctx.out, changes);
  });
  if (!changes) assertBulkOutcome(report, ['compensated']);
}

/** Ids given; on a terminal with neither ids nor FILTERS, an interactive checklist of the stuck sagas. */
async function pickIds(app: App, ctx: Ctx<CompFlags>, input: CompInput): Promise<string[]> {
  if (ctx.args.length > 0) return [...new Set(ctx.args)];
  const stuck = await app.client().findStuck({ olderThanMs: input.olderThanMs, limit: 1000 });
  return chooseMany(ctx.io, 'Which sagas should be compensated?', stuck.map((s) => ({
    name: `${s.transactionId}  ${s.status}  ${s.userId} x${s.quantity} ${s.itemId} = ${s.total}  (${s.why})`, value: s.transactionId })));
}

/**
 * One saga at a time, so the progress counts sagas really compensated and Ctrl-C stops between
 * two of them: each saga's compensation commits whole or not at all.
 */
async function compensateEach(client: SagaClient, ids: string[], request: CompensateRequest, out: Output): Promise<CompensateResult[]> {
  if (ids.length === 1) return client.compensate(ids, request);
  return out.withProgress({ label: 'compensating', unit: 'sagas', total: ids.length,
    resume: 'Each saga compensated is done whole; run the same command again for the rest (compensated ones are refused as already compensated).' },
  async (progress) => {
    const results: CompensateResult[] = [];
    for (const id of ids) {
      progress.tick(results.length);
      results.push(...await client.compensate([id], request));
    }
    progress.tick(results.length);
    return results;
  });
}

function renderPlans(out: Output, plans: CompensationPlan[]): void {
  out.table(['transaction id', 'status', 'plan'], plans.map((p) => [p.transactionId, p.status ?? '-',
    p.refusal ? out.color.red(`refused: ${p.refusal}`) : p.undo.map((u) => `${u.action}${u.movement ? ` (ledger #${u.movement})` : ''}`).join('; ')
      || 'mark compensated (nothing to undo)']), { empty: 'nothing to compensate' });
  for (const p of plans.filter((x) => x.facts.length > 0)) {
    out.print(`${p.transactionId}:`);
    for (const fact of p.facts) out.print(`  - ${fact}`);
  }
}

function renderResults(out: Output, results: CompensateResult[]): void {
  out.table(['transaction id', 'before', 'outcome', 'undone', 'verified', 'detail'], results.map((r) => [
    r.transactionId, r.before ?? '-', r.outcome === 'compensated' ? out.color.green(r.outcome) : out.color.red(r.outcome),
    r.undo.map((u) => u.action).join('; '), r.verified === null ? '-' : r.verified ? 'yes' : out.color.red('NO'), r.detail ?? '']),
  { empty: 'nothing was compensated', drop: ['before', 'verified', 'undone'] });
}
