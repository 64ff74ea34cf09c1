import { Command } from 'commander';
import { Io } from './io';
import { Ctx, withApp } from './adapter';
import { Output } from './output';
import { assertCanPrompt, chooseMany, confirm } from './prompts';
import { EXIT, OutcomeExit, UsageError } from '../errors';
import { parseDuration, parseIntOption } from '../duration';
import type { App } from '../app';
import type { CompensationPlan } from '../operator/plan';
import type { CompensateResult } from '../operator/compensate';
import type { StepName } from '../saga/types';

const op = () => ({
  ...(require('../operator/stuck') as typeof import('../operator/stuck')),
  ...(require('../operator/compensate') as typeof import('../operator/compensate')),
  ...(require('../operator/recover') as typeof import('../operator/recover')),
});
const validate = () => require('../saga/validate') as typeof import('../saga/validate');

const OPERATOR_STATUSES = ['pending', 'in_progress', 'compensating', 'compensation_failed'];

function parseReason(raw: string | undefined, dryRun: boolean | undefined): string {
  if (dryRun) return '';
  if (raw === undefined || raw.trim() === '') {
    throw new UsageError('--reason is required: say why, it goes to the operator_audit table.', 'e.g. --reason "INC-123: payment service outage"');
  }
  if (raw.length > 2000) throw new UsageError('--reason is longer than 2000 characters.');
  return raw.trim();
}

export function registerOperator(saga: Command, io: Io): void {
  saga.command('stuck').description('sagas nobody is driving (lease expired, or owner gone) and those waiting for an operator')
    .option('--older-than <duration>', 'stuck for at least this long', '0s')
    .addHelpText('after', '\nExamples:\n  $ sagactl saga stuck\n  $ sagactl saga stuck --older-than 10m --json')
    .action(withApp<{ olderThan: string }, number>(io, 'saga-stuck', (ctx) => parseDuration(ctx.opts.olderThan, '--older-than'),
      async (app, olderThanMs, ctx) => {
        const stuck = await op().findStuck(app.db, olderThanMs);
        ctx.out.result({ stuck }, () => {
          ctx.out.table(['transaction id', 'status', 'mode', 'why', 'last step', 'attempts', 'last error'],
            stuck.map((s) => [s.transactionId, s.status, s.mode, s.why, s.lastStep, s.attempts, s.errorCode]));
          ctx.out.print(`${stuck.length} stuck`);
        });
      }));

  type CompFlags = { stuck?: boolean; olderThan: string; status?: string; limit: string; includeCompleted?: boolean;
    dryRun?: boolean; reason?: string; failAt?: string; lease: string };
  saga.command('compensate [txid...]').description('undo sagas by hand: plan, confirm, apply, verify, audit')
    .option('--stuck', 'pick the stuck sagas (and compensation_failed ones) instead of ids')
    .option('--older-than <duration>', 'with --stuck: stuck for at least this long', '0s')
    .option('--status <status>', `with --stuck: only this status (${OPERATOR_STATUSES.join(', ')})`)
    .option('--limit <n>', 'with --stuck: at most this many, 1 to 10000', '100')
    .option('--include-completed', 'also undo completed purchases (refunds them)')
    .option('--dry-run', 'print the plan and write nothing')
    .option('--reason <text>', 'why (required for a real run; recorded in operator_audit)')
    .option('--fail-at <step>', 'drills: make the undo of this step fail')
    .option('--lease <duration>', 'how long this process holds each saga', '30s')
    .addHelpText('after', `
Exit: 0 all compensated, 3 any refused or not found (the others are still processed), 5 any compensation failed.
Examples:
  $ sagactl saga compensate --stuck --older-than 10m --dry-run
  $ sagactl saga compensate 4f0c... --reason "INC-42: stock service down" --yes
  $ sagactl saga compensate order-42 --include-completed --reason "customer refund, ticket 981"`)
    .action(withApp<CompFlags, { failAt?: StepName; olderThanMs: number; limit: number; reason: string; leaseMs: number }>(
      io, 'saga-compensate', (ctx) => parseCompensate(ctx), async (app, input, ctx) => {
        const ids = await pickIds(app, ctx, input);
        if (ids.length === 0) return ctx.out.result({ plans: [], results: [] }, () => ctx.out.print('Nothing to compensate.'));
        const client = app.client({ leaseMs: input.leaseMs });
        const plans = await client.planCompensation(ids, { includeCompleted: ctx.opts.includeCompleted });
        if (ctx.opts.dryRun) {
          ctx.out.result({ dryRun: true, plans }, () => renderPlans(ctx.out, plans));
          if (plans.some((p) => p.refusal)) throw new OutcomeExit(EXIT.notFound);
          return;
        }
        if (!ctx.out.json) renderPlans(ctx.out, plans);
        if (!(await confirm(io, ctx.opts.yes, `Compensate ${plans.filter((p) => !p.refusal).length} saga(s) as planned?`))) {
          throw new UsageError('Not confirmed; nothing compensated.');
        }
        const results = await client.compensate(ids, { reason: input.reason, includeCompleted: ctx.opts.includeCompleted, failAt: input.failAt });
        ctx.out.result({ plans, results }, () => renderResults(ctx.out, results));
        if (results.some((x) => x.outcome === 'compensation_failed')) throw new OutcomeExit(EXIT.compensationFailed);
        if (results.some((x) => x.outcome !== 'compensated')) throw new OutcomeExit(EXIT.notFound);
      }));

  type RecFlags = { olderThan: string; strategy?: string; limit: string; dryRun?: boolean; reason?: string; lease: string };
  saga.command('recover').description('claim stuck sagas and finish them (resume) or undo them (compensate)')
    .option('--older-than <duration>', 'stuck for at least this long; 0s takes every stuck saga', '0s')
    .option('--strategy <strategy>', 'resume | compensate (sagas that were compensating always go on compensating)')
    .option('--limit <n>', 'at most this many sagas, 1 to 100000', '1000')
    .option('--dry-run', 'print what would be done and write nothing')
    .option('--reason <text>', 'recorded in operator_audit', 'saga recover')
    .option('--lease <duration>', 'how long this process holds each saga', '30s')
    .addHelpText('after', `
Several recoverers may run at once: each claims different sagas (SKIP LOCKED).
Exit: 0 every claimed saga reached a final status, 5 a compensation failed.
Examples:
  $ sagactl saga recover --dry-run
  $ sagactl saga recover --older-than 5m --yes
  $ sagactl saga recover --strategy compensate --yes --reason "INC-7: undo everything in flight"`)
    .action(withApp<RecFlags, { olderThanMs: number; strategy?: 'resume' | 'compensate'; limit: number; leaseMs: number }>(
      io, 'saga-recover', (ctx) => parseRecover(ctx), async (app, input, ctx) => {
        const client = app.client({ leaseMs: input.leaseMs });
        const candidates = await op().listRecoverable(client.db, input);
        if (ctx.opts.dryRun) {
          const plan = candidates.map((c) => ({ transactionId: c.transactionId, status: c.status, mode: c.mode, why: c.why, action: op().actionFor(c, input.strategy) }));
          return ctx.out.result({ dryRun: true, plan }, () => {
            ctx.out.table(['transaction id', 'status', 'mode', 'why', 'would'], plan.map((p) => [p.transactionId, p.status, p.mode, p.why, p.action]));
            ctx.out.print(`${plan.length} saga(s) would be recovered`);
          });
        }
        if (candidates.length > 0 && !(await confirm(io, ctx.opts.yes, `Recover ${candidates.length} stuck saga(s)?`))) {
          throw new UsageError('Not confirmed; nothing recovered.');
        }
        const results = await client.recover({ ...input, candidates, reason: parseReason(ctx.opts.reason, false) });
        ctx.out.result({ results }, () => {
          ctx.out.table(['transaction id', 'mode', 'before', 'action', 'after'], results.map((x) => [x.transactionId, x.mode, x.before, x.action, x.after]));
          ctx.out.print(`${results.length} recovered of ${candidates.length} stuck (others were claimed by another recoverer)`);
        });
        if (results.some((x) => x.after === 'compensation_failed')) throw new OutcomeExit(EXIT.compensationFailed);
        if (results.some((x) => !['completed', 'compensated', 'failed'].includes(x.after))) throw new OutcomeExit(EXIT.internal);
      }));
}

function parseCompensate(ctx: Ctx<{ stuck?: boolean; olderThan: string; status?: string; limit: string; dryRun?: boolean; reason?: string; failAt?: string; lease: string }>) {
  const o = ctx.opts;
  if (ctx.args.length > 0 && o.stuck) throw new UsageError('Give transaction ids or --stuck, not both.');
  if (o.status !== undefined && !OPERATOR_STATUSES.includes(o.status)) {
    throw new UsageError(`--status must be one of ${OPERATOR_STATUSES.join(', ')}, got "${o.status}".`);
  }
  for (const id of ctx.args) validate().parseId(id, 'TXID', 100);
  const parsed = {
    olderThanMs: parseDuration(o.olderThan, '--older-than'),
    limit: parseIntOption(o.limit, '--limit', 1, 10_000),
    reason: parseReason(o.reason, o.dryRun),
    failAt: o.failAt === undefined ? undefined : validate().parseStep(o.failAt, '--fail-at'),
    leaseMs: validate().parseLease(o.lease),
  };
  if (ctx.args.length === 0 && !o.stuck && !ctx.io.stdinIsTTY) {
    throw new UsageError('Name the sagas to compensate: transaction ids, or --stuck.');
  }
  if (!o.dryRun) assertCanPrompt(ctx.io, o.yes);
  return parsed;
}

function parseRecover(ctx: Ctx<{ olderThan: string; strategy?: string; limit: string; dryRun?: boolean; reason?: string; lease: string }>) {
  const o = ctx.opts;
  if (o.strategy !== undefined && o.strategy !== 'resume' && o.strategy !== 'compensate') {
    throw new UsageError(`--strategy must be resume or compensate, got "${o.strategy}".`);
  }
  const parsed = {
    olderThanMs: parseDuration(o.olderThan, '--older-than'),
    strategy: o.strategy as 'resume' | 'compensate' | undefined,
    limit: parseIntOption(o.limit, '--limit', 1, 100_000),
    leaseMs: validate().parseLease(o.lease),
  };
  parseReason(o.reason, o.dryRun);
  if (!o.dryRun) assertCanPrompt(ctx.io, o.yes);
  return parsed;
}

/** Ids given, else the stuck selection; on a terminal with neither, an interactive checklist. */
async function pickIds(app: App, ctx: Ctx<{ stuck?: boolean; status?: string }>, input: { olderThanMs: number; limit: number }): Promise<string[]> {
  if (ctx.args.length > 0) return [...new Set(ctx.args)];
  const stuck = (await op().findStuck(app.db, input.olderThanMs))
    .filter((s) => ctx.opts.status === undefined || s.status === ctx.opts.status).slice(0, input.limit);
  if (ctx.opts.stuck) return stuck.map((s) => s.transactionId);
  return chooseMany('Which sagas should be compensated?', stuck.map((s) => ({
    name: `${s.transactionId}  ${s.status}  ${s.userId} x${s.quantity} ${s.itemId} = ${s.total}  (${s.why})`, value: s.transactionId })));
}

function renderPlans(out: Output, plans: CompensationPlan[]): void {
  out.table(['transaction id', 'status', 'plan'], plans.map((p) => [p.transactionId, p.status ?? '-',
    p.refusal ? out.color.red(`refused: ${p.refusal}`) : p.undo.map((u) => u.action).join('; ') || 'mark compensated (nothing to undo)']));
}

function renderResults(out: Output, results: CompensateResult[]): void {
  out.table(['transaction id', 'before', 'outcome', 'undone', 'verified', 'detail'], results.map((r) => [
    r.transactionId, r.before ?? '-', r.outcome === 'compensated' ? out.color.green(r.outcome) : out.color.red(r.outcome),
    r.undo.map((u) => u.action).join('; '), r.verified === null ? '-' : r.verified ? 'yes' : out.color.red('NO'), r.detail ?? '']));
}
