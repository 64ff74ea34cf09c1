import { Command } from 'commander';
import { UsageError } from '../errors';
import { parseDuration, parseInstant } from '../duration';
import { parseId } from '../saga/validate';
import { ERROR_MESSAGES, FINAL_STATUSES, MODES, SAGA_STATUS, STEPS } from '../saga/types';
import { DEFAULT_OLDER_THAN_MS } from '../saga/stuck';
import type { SagaFilter } from '../saga/filter';

/** The flags of FILTERS, as commander gives them. */
export interface FilterFlags {
  status?: string;
  mode?: string;
  user?: string;
  item?: string;
  errorCode?: string;
  step?: string;
  since?: string;
  until?: string;
  stuck?: boolean;
  olderThan?: string;
}

const STATUSES = Object.values(SAGA_STATUS) as string[];
const ERROR_CODES = Object.keys(ERROR_MESSAGES);
const STEP_VALUES = [...STEPS, 'none'];
export const OLDER_THAN_HELP = 'a saga counts as stuck once unmoved this long with no live lease (a dead owner on this host at once)';

/** --older-than, the stuck definition's one parameter (1m when not given). */
export const parseOlderThan = (raw: string | undefined) => (raw === undefined ? DEFAULT_OLDER_THAN_MS : parseDuration(raw, '--older-than'));

export const FILTERS_HELP = `
FILTERS combine with AND; a comma-separated list within one filter means any of them:
  --status failed,compensated --user user-123 --since 2h`;

/** Adds FILTERS to a command (`stuck: false` for commands that only ever act on stuck sagas). */
export function addFilterOptions(cmd: Command, opts: { stuck?: boolean } = {}): Command {
  cmd.option('--status <list>', `saga status: ${STATUSES.join(', ')}`)
    .option('--mode <list>', MODES.join(' | '))
    .option('--user <list>', 'buyer user ids')
    .option('--item <list>', 'item ids')
    .option('--error-code <list>', "the saga's error code or a failed step's (INSUFFICIENT_STOCK, NOTIFICATION_FAILED ...)")
    .option('--step <list>', `last step committed forward: ${STEP_VALUES.join(', ')}`)
    .option('--since <time>', 'created at or after: ISO-8601 or a duration ago (15m, 2h, 7d)')
    .option('--until <time>', 'created before: ISO-8601 or a duration ago');
  if (opts.stuck !== false) cmd.option('--stuck', 'only stuck sagas (and compensation_failed ones): see saga stuck');
  cmd.option('--older-than <duration>', OLDER_THAN_HELP, '1m');
  return cmd;
}

function values(raw: string | undefined, option: string, allowed?: string[], idMax?: number): string[] | undefined {
  if (raw === undefined) return undefined;
  const items = raw.split(',').map((v) => v.trim());
  if (items.some((v) => v === '')) throw new UsageError(`${option} has an empty value: "${raw}".`);
  for (const v of items) {
    if (allowed && !allowed.includes(v)) throw new UsageError(`${option} must be one or more of ${allowed.join(', ')}, got "${v}".`);
    if (idMax !== undefined) parseId(v, option, idMax);
  }
  return [...new Set(items)];
}

/**
 * FILTERS from flags, validated: unknown values and contradictions are usage errors (exit 2),
 * before anything is read. `alwaysStuck` for commands that act only on stuck sagas (recover).
 */
export function parseFilter(o: FilterFlags, opts: { alwaysStuck?: boolean } = {}): SagaFilter {
  const since = o.since === undefined ? undefined : parseInstant(o.since, '--since');
  const until = o.until === undefined ? undefined : parseInstant(o.until, '--until');
  if (since && until && since >= until) throw new UsageError('--since must be before --until: no saga can match both.');
  const olderThanMs = parseOlderThan(o.olderThan);
  const stuck = o.stuck === true || opts.alwaysStuck === true;
  const filter: SagaFilter = {
    status: values(o.status, '--status', STATUSES) as SagaFilter['status'],
    mode: values(o.mode, '--mode', [...MODES]) as SagaFilter['mode'],
    userId: values(o.user, '--user', undefined, 50),
    itemId: values(o.item, '--item', undefined, 50),
    errorCode: values(o.errorCode, '--error-code', ERROR_CODES),
    step: values(o.step, '--step', STEP_VALUES) as SagaFilter['step'],
    since,
    until,
    stuck: stuck ? { olderThanMs } : undefined,
  };
  const statuses = filter.status as string[] | undefined;
  if (stuck && statuses && statuses.every((s) => FINAL_STATUSES.includes(s as never) && s !== 'compensation_failed')) {
    throw new UsageError(`--stuck selects sagas in flight or compensation_failed; --status ${statuses.join(',')} never is: no saga can match both.`);
  }
  for (const key of Object.keys(filter) as (keyof SagaFilter)[]) if (filter[key] === undefined) delete filter[key];
  return filter;
}
