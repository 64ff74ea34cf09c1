import { Db } from '../db/pool';
import { deadLocalOwners, stuckCondition } from './stuck';
import type { SagaMode, SagaStatus, StepName } from './types';

type OneOrMany<T> = T | readonly T[];

/**
 * FILTERS: how an operator selects sagas, for every command that reads or acts on many of them
 * (saga list, compensate, recover, retry, export, prune, audit list). Filters combine with AND;
 * the values of one filter with OR (`status: ['failed', 'compensated']`).
 */
export interface SagaFilter {
  status?: OneOrMany<SagaStatus>;
  mode?: OneOrMany<SagaMode>;
  userId?: OneOrMany<string>;
  itemId?: OneOrMany<string>;
  /** The saga's error code, or one of its failed steps' (NOTIFICATION_FAILED is only ever a step's). */
  errorCode?: OneOrMany<string>;
  /** The last step that committed forward (its newest succeeded forward record); 'none' when none did. */
  step?: OneOrMany<StepName | 'none'>;
  /** Created at or after. */
  since?: Date;
  /** Created before. */
  until?: Date;
  /** Only stuck sagas (src/saga/stuck.ts): unmoved this long with no live lease, or compensation_failed. */
  stuck?: { olderThanMs: number };
}

/** A condition over saga_states aliased `s`, and the parameters it names ($1 onwards). */
export interface Where {
  sql: string;
  params: unknown[];
}

const list = <T>(v: OneOrMany<T> | undefined): T[] | undefined =>
  v === undefined ? undefined : Array.isArray(v) ? [...v] : [v as T];

/** The last step a saga (alias `s`) committed forward, or 'none'. */
export const lastCommittedStep = (s: string) => `COALESCE((SELECT r.step FROM saga_step_results r
   WHERE r.transaction_id = ${s}.transaction_id AND r.kind = 'forward' AND r.status = 'succeeded'
   ORDER BY r.id DESC LIMIT 1), 'none')`;

/**
 * The filter as SQL over saga_states aliased `s`. Every value is a parameter; `deadOwners` (the
 * stuck definition's lease owners whose process is gone) is needed only with `stuck`.
 */
export function whereOf(f: SagaFilter, deadOwners: string[] = [], s = 's'): Where {
  const params: unknown[] = [];
  const conds: string[] = [];
  const p = (value: unknown) => `$${params.push(value)}`;
  const anyOf = (column: string, values: unknown[] | undefined) => {
    if (values !== undefined) conds.push(`${column} = ANY(${p(values)}::text[])`);
  };
  anyOf(`${s}.status`, list(f.status));
  anyOf(`${s}.mode`, list(f.mode));
  anyOf(`${s}.user_id`, list(f.userId));
  anyOf(`${s}.item_id`, list(f.itemId));
  const codes = list(f.errorCode);
  if (codes !== undefined) {
    // A saga's own code, or a failed step's: a completed saga whose notification failed carries
    // NOTIFICATION_FAILED on its step record only (the purchase itself went through).
    const codesParam = p(codes);
    conds.push(`(${s}.error_code = ANY(${codesParam}::text[]) OR EXISTS (SELECT 1 FROM saga_step_results r
      WHERE r.transaction_id = ${s}.transaction_id AND r.status = 'failed' AND r.error_code = ANY(${codesParam}::text[])))`);
  }
  anyOf(lastCommittedStep(s), list(f.step));
  // ISO strings, not Dates: pg would send a Date in this machine's zone, which a timestamp column ignores.
  if (f.since) conds.push(`${s}.created_at >= ${p(f.since.toISOString())}::timestamp`);
  if (f.until) conds.push(`${s}.created_at < ${p(f.until.toISOString())}::timestamp`);
  if (f.stuck) conds.push(stuckCondition(s, p(f.stuck.olderThanMs), p(deadOwners)));
  return { sql: conds.length > 0 ? conds.join(' AND ') : 'TRUE', params };
}

/** whereOf, with the dead local owners looked up when the filter asks for stuck sagas. */
export async function sagaWhere(db: Pick<Db, 'query'>, f: SagaFilter, s = 's'): Promise<Where> {
  return whereOf(f, f.stuck ? await deadLocalOwners(db) : [], s);
}

/** The filter in words, for confirmations and the audit ("status=failed,compensated user=u1"). */
export function describeFilter(f: SagaFilter): string {
  const parts: string[] = [];
  const add = (name: string, v: OneOrMany<string> | undefined) => {
    const values = list(v);
    if (values) parts.push(`${name}=${values.join(',')}`);
  };
  add('status', f.status);
  add('mode', f.mode);
  add('user', f.userId);
  add('item', f.itemId);
  add('error-code', f.errorCode);
  add('step', f.step);
  if (f.since) parts.push(`since=${f.since.toISOString()}`);
  if (f.until) parts.push(`until=${f.until.toISOString()}`);
  if (f.stuck) parts.push(`stuck(older-than=${f.stuck.olderThanMs}ms)`);
  return parts.length > 0 ? parts.join(' ') : 'all sagas';
}

/** The filter as plain JSON (arrays, ISO times), for --json output and the audit's details. */
export function filterJson(f: SagaFilter): Record<string, unknown> {
  return {
    ...(f.status !== undefined ? { status: list(f.status) } : {}),
    ...(f.mode !== undefined ? { mode: list(f.mode) } : {}),
    ...(f.userId !== undefined ? { userId: list(f.userId) } : {}),
    ...(f.itemId !== undefined ? { itemId: list(f.itemId) } : {}),
    ...(f.errorCode !== undefined ? { errorCode: list(f.errorCode) } : {}),
    ...(f.step !== undefined ? { step: list(f.step) } : {}),
    ...(f.since ? { since: f.since.toISOString() } : {}),
    ...(f.until ? { until: f.until.toISOString() } : {}),
    ...(f.stuck ? { stuck: f.stuck } : {}),
  };
}

/** Whether any filter is set (an empty filter selects every saga). */
export const isEmptyFilter = (f: SagaFilter) => Object.keys(filterJson(f)).length === 0;
