import { Command } from 'commander';
import { Io } from './io';
import { Ctx } from './adapter';
import { Output } from './output';
import { confirm } from './prompts';
import { EXIT, OutcomeExit, UsageError } from '../errors';
import { parseIntOption } from '../duration';
import type { SagaClient } from '../client';
import type { BulkPlan, BulkReport } from '../operator/bulk';
import type { BulkRequest } from '../operator/bulk-select';
import type { WhatIfChanges } from '../operator/what-if';

/**
 * What compensate, recover and retry share when they act on many sagas selected by FILTERS: the
 * pacing flags, the totals shown before the confirmation, the run with its progress, --what-if,
 * and the exit code of the outcome.
 */
export interface BulkFlags {
  rate?: string;
  batch: string;
  whatIf?: boolean;
  limit?: string;
  parallel: string;
}

export interface Pacing {
  ratePerSec?: number;
  batch: number;
  limit?: number;
  concurrency: number;
}

export function addBulkOptions(cmd: Command): Command {
  return cmd.option('--rate <n/s>', 'at most this many sagas per second (e.g. 50/s)')
    .option('--batch <n>', 'sagas per batch, 1 to 10000: the guard re-checks money and stock after each', '100')
    .option('--limit <n>', 'at most this many sagas in all')
    .option('--parallel <n>', 'sagas done at once, 1 to 32, each in its own transaction (--what-if: one at a time)', '4')
    .option('--what-if', 'do it all in one transaction, report every row it changed, then roll back (no confirmation)');
}

/** --rate, --batch, --limit and --parallel, checked before anything connects (bad values: exit 2, nothing written). */
export function parsePacing(o: BulkFlags): Pacing {
  let ratePerSec: number | undefined;
  if (o.rate !== undefined) {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/s)?\s*$/.exec(o.rate);
    ratePerSec = m ? Number(m[1]) : NaN;
    if (!(ratePerSec > 0 && ratePerSec <= 100_000)) throw new UsageError(`--rate must be more than 0 and at most 100000 sagas per second (e.g. 50/s), got "${o.rate}".`);
  }
  return {
    ratePerSec,
    batch: parseIntOption(o.batch, '--batch', 1, 10_000),
    limit: o.limit === undefined ? undefined : parseIntOption(o.limit, '--limit', 1, 100_000_000),
    concurrency: parseIntOption(o.parallel, '--parallel', 1, 32),
  };
}

/** Pacing is for runs by FILTERS: with ids it would be silently ignored, so it is refused. */
export function assertNoPacingWithIds(o: BulkFlags, ids: string[]): void {
  if (ids.length === 0) return;
  const given = [o.rate !== undefined && '--rate', o.limit !== undefined && '--limit', o.batch !== '100' && '--batch', o.parallel !== '4' && '--parallel'].filter(Boolean);
  if (given.length > 0) throw new UsageError(`${given.join(', ')} pace a run selected by FILTERS; with transaction ids the sagas named are done one by one.`);
}

export function renderPlan(out: Output, plan: BulkPlan, verb: string): void {
  out.print(`${verb} ${plan.sagas} saga(s) selected by ${plan.description}: refund ${plan.refund}, restock ${plan.restock}.`);
  if (plan.sagas > 0) {
    out.table(['user', 'sagas', 'refund'], plan.byUser.map((u) => [u.userId, u.sagas, u.refund]));
    out.table(['item', 'sagas', 'restock'], plan.byItem.map((i) => [i.itemId, i.sagas, i.restock]));
  }
  for (const a of plan.leftAlone) out.print(`left alone: ${a.sagas} ${a.status} (${a.why})`);
}

export interface BulkRun {
  request: BulkRequest;
  pacing: Pacing;
  reason: string;
  verb: string;
  /** Progress: "compensating". */
  label: string;
  resume: string;
}

/** Totals, confirmation, the run under a progress bar; or, with --what-if, the same run rolled back and its changes. */
export async function runBulkCommand(client: SagaClient, io: Io, ctx: Ctx<BulkFlags>, run: BulkRun): Promise<{ plan: BulkPlan; report?: BulkReport; changes?: WhatIfChanges }> {
  const plan = await client.planBulk({ ...run.request, limit: run.pacing.limit });
  if (plan.sagas === 0) return { plan };
  if (!ctx.out.json) renderPlan(ctx.out, plan, ctx.opts.whatIf ? `What if: ${run.verb}` : run.verb);
  const req = { ...run.request, ...run.pacing, reason: run.reason };
  if (ctx.opts.whatIf) {
    const { result, changes } = await client.whatIf((c) => c.runBulk(req));
    return { plan, report: result, changes };
  }
  if (!(await confirm(io, ctx.opts.yes, `${run.verb} ${plan.sagas} saga(s)?`))) throw new UsageError(`Not confirmed; nothing done.`);
  const report = await ctx.out.withProgress({ label: run.label, unit: 'sagas', total: plan.sagas, resume: run.resume },
    (progress) => client.runBulk({ ...req, signal: io.signal, onProgress: (done) => progress.tick(done) }));
  return { plan, report };
}

/** The exit code a run's outcome carries: the guard (6), a failed compensation (5), refusals (3). */
export function assertBulkOutcome(report: BulkReport, success: string[]): void {
  if (report.outcome === 'guard_stopped') {
    const v = report.violations[0];
    throw new OutcomeExit(EXIT.checkFailed, `guard stopped the run after ${report.processed} saga(s): ${v.check} broken by ${v.id} (${v.detail})`);
  }
  const failed = report.counts.compensation_failed ?? 0;
  if (failed > 0) throw new OutcomeExit(EXIT.compensationFailed, `${failed} of ${report.processed} compensation(s) failed`);
  const refused = report.results.filter((r) => !success.includes(r.outcome)).length;
  if (refused > 0) throw new OutcomeExit(EXIT.notFound, `${refused} of ${report.processed} saga(s) refused or not found`);
}

export const countsText = (counts: Record<string, number>) => Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(', ') || 'none';

export function renderChanges(out: Output, c: WhatIfChanges): void {
  out.print('What if (rolled back, nothing changed):');
  out.table(['saga', 'before', 'after'], c.sagas.map((s) => [s.transactionId, s.before ?? '-', s.after ?? '-']), { empty: 'no saga changes status' });
  out.table(['user', 'balance before', 'after'], c.users.map((u) => [u.userId, u.before, u.after]), { empty: 'no balance moves' });
  out.table(['item', 'stock before', 'after'], c.items.map((i) => [i.itemId, i.before, i.after]), { empty: 'no stock moves' });
  out.table(['ledger account', 'delta', 'saga', 'step', 'kind'], c.ledger.map((l) => [`${l.account} ${l.accountId}`, l.delta, l.transactionId ?? l.source, l.step ?? '', l.kind ?? '']),
    { empty: 'no ledger rows' });
  for (const n of c.notifications) out.print(`notification ${n.notificationId}: ${n.before?.status ?? '-'} -> ${n.after?.status ?? '-'} (attempts ${n.after?.attempts ?? '-'})`);
  for (const l of c.transactionLogs) out.print(`transaction log ${l.logId}: ${l.before ?? '-'} -> ${l.after ?? '-'}`);
  out.print(`${c.auditRows} audit row(s) would be written.`);
}
