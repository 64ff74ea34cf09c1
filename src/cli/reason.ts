import { UsageError } from '../errors';

/** Why, for the audit: required for a real run, never empty (nor only quotes: `--reason "''"`). */
export function parseReason(raw: string | undefined, needed: boolean): string {
  if (!needed) return raw?.trim() ?? '';
  if (raw === undefined || /^['"\s]*$/.test(raw)) {
    throw new UsageError('--reason is required: say why, it goes to the operator_audit table.', 'e.g. --reason "INC-123: payment service outage"');
  }
  if (raw.length > 2000) throw new UsageError('--reason is longer than 2000 characters.');
  return raw.trim();
}

/** --what-if writes its audit rows too (then rolls them back): the reason given, or one saying so. */
export const whatIfReason = (raw: string | undefined) => (raw === undefined || /^['"\s]*$/.test(raw) ? 'what-if' : parseReason(raw, true));
