import { Command } from 'commander';
import { Io } from './io';
import { Ctx, withApp } from './adapter';
import { Output } from './output';
import { registerStuck } from './stuck';
import { assertCanPrompt, chooseMany, confirm } from './prompts';
import { EXIT, OutcomeExit, UsageError } from '../errors';
import { parseDuration, parseIntOption } from '../duration';
import type { App } from '../app';
import type { CompensationPlan } from '../operator/plan';
import type { CompensateResult } from '../operator/compensate';
import type { CompensateRequest, SagaClient } from '../client';
import type { StuckSaga } from '../operator/stuck';
import type { RecoverReport, Strategy } from '../operator/recover';
import type { StepName } from '../saga/types';

const validate = () => require('../saga/validate') as typeof import('../saga/validate');
const actionFor = () => (require('../operator/recover') as typeof import('../operator/recover')).actionFor;

const OPERATOR_STATUSES = ['pending', 'in_progress', 'compensating', 'compensation_failed'];
const OLDER_THAN_HELP = 'a saga counts as stuck once unmoved this long with no live lease (a dead owner on this host at once)';
const OLDER_THAN_DEFAULT = '1m';

/** Why, for the audit: required for a real run, never empty (nor only quotes: `--reason "''"`). */
export function parseReason(raw: string | undefined, needed: boolean): string {
  if (!needed) return raw?.trim() ?? '';
  if (raw === undefined || /^['"\s]*$/.test(raw)) {
    throw new UsageError('--reason is required: say why, it goes to the operator_audit table.', 'e.g. --reason "INC-123: payment service outage"');
  }
  if (raw.length > 2000) throw new UsageError('--reason is longer than 2000 characters.');
  return raw.trim();
}

const olderThan = (raw: string) => parseDuration(raw, '--older-than');

export function registerOperator(saga: Command, io: Io): void {
  registerStuck(saga, io);
  registerCompensate(saga, io);
  registerRecover(saga, io);
}

type CompFlags = { stuck?: boolean; olderThan: string; status?: string; limit: string; includeCompleted?: boolean;
  dryRun?: boolean; reason?: string; undo?: string; failAt?: string; lease: string };
interface CompInput { olderThanMs: number; limit: number; reason: string; override?: StepName; failAt?: StepName; leaseMs: number }

function registerCompensate(saga: Command, io: Io): void {
  saga.command('compensate [txid...]').description('undo sagas by hand: plan from the records and the ledger, confirm, apply, verify, audit')
    .option('--stuck', 'pick the stuck sagas (and compensation_failed ones) instead of ids')
    .option('--older-than <duration>', OLDER_THAN_HELP, OLDER_THAN_DEFAULT)
    .option('--status <status>', `with --stuck: only this status (${OPERATOR_STATUSES.join(', ')})`)
    .option('--limit <n>', 'with --stuck: at most this many, 1 to 10000', '100')
    .option('--include-completed', 'also undo completed purchases (refunds them)')
    .option('--dry-run', 'print the plan and its evidence, write nothing')
    .option('--reason <text>', 'why (required for a real run; recorded in operator_audit)')
    .option('--undo <step>', 'override, after checking by hand: undo this step although its record or ledger movement is missing (audited)')
    .option('--fail-at <step>', 'drills: make the undo of this step fail')
    .option('--lease <duration>', 'how long this process holds each saga', '30s')
    .addHelpText('after', `
A saga whose step records and ledger disagree, or whose user or item shows a movement nobody explained
since it began, is refused (exit 3) with the facts: see docs/runbook.md.
Exit: 0 all compensated and verified, 3 any refused or not found (the others are still processed), 5 any compensation failed.
Examples:
  $ sagactl saga compensate --stuck --older-than 10m --dry-run
  $ sagactl saga compensate 4f0c... --reason "INC-42: stock service down" --yes
  $ sagactl saga compensate order-42 --include-completed --reason "customer refund, ticket 981"
  $ sagactl saga compensate order-7 --undo validate_user --reason "INC-9: debit made by the old service, checked by hand"`)
    .action(withApp<CompFlags, CompInput>(io, 'saga-compensate', parseCompensate, async (app, input, ctx) => {
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
      if (!ctx.out.json) renderPlans(ctx.out, plans);
      if (!(await confirm(io, ctx.opts.yes, `Compensate ${plans.filter((p) => !p.refusal).length} saga(s) as planned?`))) {
        throw new UsageError('Not confirmed; nothing compensated.');
      }
      const results = await compensateEach(client, ids, { ...request, reason: input.reason, failAt: input.failAt }, ctx.out);
      ctx.out.result({ plans, results }, () => renderResults(ctx.out, results));
      const failed = results.filter((x) => x.outcome === 'compensation_failed').length;
      if (failed > 0) throw new OutcomeExit(EXIT.compensationFailed, `${failed} of ${results.length} compensation(s) failed`);
      const refused = results.filter((x) => x.outcome !== 'compensated').length;
      if (refused > 0) throw new OutcomeExit(EXIT.notFound, `${refused} of ${results.length} saga(s) refused or not found`);
    }));
}

function parseCompensate(ctx: Ctx<CompFlags>): CompInput {
  const o = ctx.opts;
  if (ctx.args.length > 0 && o.stuck) throw new UsageError('Give transaction ids or --stuck, not both.');
  if (o.status !== undefined && !OPERATOR_STATUSES.includes(o.status)) {
    throw new UsageError(`--status must be one of ${OPERATOR_STATUSES.join(', ')}, got "${o.status}".`);
  }
  if (o.undo !== undefined && ctx.args.length !== 1) throw new UsageError('--undo is an override for one saga: name exactly one transaction id.');
  for (const id of ctx.args) validate().parseId(id, 'TXID', 100);
  const parsed = {
    olderThanMs: olderThan(o.olderThan),
    limit: parseIntOption(o.limit, '--limit', 1, 10_000),
    reason: parseReason(o.reason, !o.dryRun),
    override: o.undo === undefined ? undefined : validate().parseStep(o.undo, '--undo'),
    failAt: o.failAt === undefined ? undefined : validate().parseStep(o.failAt, '--fail-at'),
    leaseMs: validate().parseLease(o.lease),
  };
  if (ctx.args.length === 0 && !o.stuck && !ctx.io.stdinIsTTY) {
    throw new UsageError('Name the sagas to compensate: transaction ids, or --stuck.');
  }
  if (!o.dryRun) assertCanPrompt(ctx.io, o.yes);
  return parsed;
}

/** Ids given, else the stuck selection; on a terminal with neither, an interactive checklist. */
async function pickIds(app: App, ctx: Ctx<CompFlags>, input: CompInput): Promise<string[]> {
  if (ctx.args.length > 0) return [...new Set(ctx.args)];
  const stuck = (await app.client().findStuck({ olderThanMs: input.olderThanMs }))
    .filter((s) => ctx.opts.status === undefined || s.status === ctx.opts.status).slice(0, input.limit);
  if (ctx.opts.stuck) return stuck.map((s) => s.transactionId);
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

type RecFlags = { olderThan: string; strategy?: string; limit?: string; dryRun?: boolean; reason?: string; lease: string };
interface RecInput { olderThanMs: number; strategy?: Strategy; limit?: number; leaseMs: number; reason: string }

function registerRecover(saga: Command, io: Io): void {
  saga.command('recover').description('claim stuck sagas and finish them (resume) or undo them (compensate), from their records')
    .option('--older-than <duration>', OLDER_THAN_HELP, OLDER_THAN_DEFAULT)
    .option('--strategy <strategy>', 'resume | compensate (sagas that were compensating always go on compensating)')
    .option('--limit <n>', 'at most this many sagas (default: every stuck saga, in rounds)')
    .option('--dry-run', 'print what would be done and write nothing')
    .option('--reason <text>', 'recorded in operator_audit', 'saga recover')
    .option('--lease <duration>', 'how long this process holds each saga', '30s')
    .addHelpText('after', `
Several recoverers may run at once: each claims different sagas (SKIP LOCKED), never one that moved
within --older-than. A saga whose records and ledger disagree is left alone and reported (exit 3).
Exit: 0 every claimed saga reached a final status, 3 some were refused, 5 a compensation failed.
Examples:
  $ sagactl saga recover --dry-run
  $ sagactl saga recover --older-than 5m --yes
  $ sagactl saga recover --strategy compensate --yes --reason "INC-7: undo everything in flight"`)
    .action(withApp<RecFlags, RecInput>(io, 'saga-recover', parseRecover, async (app, input, ctx) => {
      const client = app.client({ leaseMs: input.leaseMs });
      const candidates = (await client.findStuck({ olderThanMs: input.olderThanMs, limit: input.limit }))
        .filter((s) => s.status !== 'compensation_failed');
      if (ctx.opts.dryRun) {
        const plan = candidates.map((c) => ({ transactionId: c.transactionId, status: c.status, mode: c.mode, why: c.why, action: actionFor()(c, input.strategy) }));
        return ctx.out.result({ dryRun: true, plan }, () => {
          ctx.out.table(['transaction id', 'status', 'mode', 'why', 'would'], plan.map((p) => [p.transactionId, p.status, p.mode, p.why, p.action]),
            { empty: 'no stuck sagas to recover', drop: ['mode', 'why'] });
          if (plan.length > 0) ctx.out.print(`${plan.length} saga(s) would be recovered`);
        });
      }
      if (candidates.length > 0 && !(await confirm(io, ctx.opts.yes, `Recover ${candidates.length} stuck saga(s)?`))) {
        throw new UsageError('Not confirmed; nothing recovered.');
      }
      const report = await recoverEach(client, input, candidates, ctx.out);
      ctx.out.result(report, () => renderRecovered(ctx.out, report, candidates.length));
      const failed = report.results.filter((x) => x.after === 'compensation_failed').length;
      if (failed > 0) throw new OutcomeExit(EXIT.compensationFailed, `${failed} compensation(s) failed during recovery`);
      if (report.refused > 0) throw new OutcomeExit(EXIT.notFound, `${report.refused} saga(s) refused: records and ledger disagree`);
    }));
}

function parseRecover(ctx: Ctx<RecFlags>): RecInput {
  const o = ctx.opts;
  if (o.strategy !== undefined && o.strategy !== 'resume' && o.strategy !== 'compensate') {
    throw new UsageError(`--strategy must be resume or compensate, got "${o.strategy}".`);
  }
  const parsed = {
    olderThanMs: olderThan(o.olderThan),
    strategy: o.strategy as Strategy | undefined,
    limit: o.limit === undefined ? undefined : parseIntOption(o.limit, '--limit', 1, 10_000_000),
    leaseMs: validate().parseLease(o.lease),
    reason: parseReason(o.reason, !o.dryRun),
  };
  if (!o.dryRun) assertCanPrompt(ctx.io, o.yes);
  return parsed;
}

/**
 * One claimed saga at a time, so the progress counts what was really recovered and Ctrl-C stops
 * between two sagas (each recovered whole, its cache entry invalidated by its own call).
 */
async function recoverEach(client: SagaClient, input: RecInput, candidates: StuckSaga[], out: Output): Promise<RecoverReport> {
  const report: RecoverReport = { results: [], skipped: 0, refused: 0 };
  if (candidates.length === 0) return report;
  return out.withProgress({ label: 'recovering', unit: 'sagas', total: candidates.length,
    resume: 'Each saga recovered is done whole; run `sagactl saga recover` again for the rest.' },
  async (progress) => {
    for (const [done, saga] of candidates.entries()) {
      progress.tick(done);
      const one = await client.recover({ ...input, candidates: [saga] });
      report.results.push(...one.results);
      report.skipped += one.skipped;
      report.refused += one.refused;
    }
    progress.tick(candidates.length);
    return report;
  });
}

function renderRecovered(out: Output, report: RecoverReport, found: number): void {
  if (report.results.length > 0) {
    out.table(['transaction id', 'mode', 'before', 'action', 'after', 'detail'],
      report.results.map((x) => [x.transactionId, x.mode, x.before, x.action, x.after, x.detail ?? '']), { drop: ['mode', 'before'] });
  }
  const recovered = report.results.length - report.refused;
  const parts = [`${recovered} recovered of ${found} stuck`];
  if (report.refused > 0) parts.push(`${report.refused} refused (records and ledger disagree: see saga compensate --dry-run)`);
  if (report.skipped > 0) parts.push(`${report.skipped} skipped (claimed by another recoverer, or moved again)`);
  out.print(parts.join('; '));
}
