import { UsageError } from './errors';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "15m", "2h", "30s", "500ms", "1d"; a bare number is seconds. */
export function parseDuration(raw: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(raw.trim());
  if (!match) {
    throw new UsageError(`${option} must be a duration like 30s, 15m, 2h or 1d, got "${raw}".`);
  }
  const ms = Number(match[1]) * UNIT_MS[match[2] ?? 's'];
  if (!Number.isFinite(ms) || ms > 3650 * UNIT_MS.d) throw new UsageError(`${option} is too large: "${raw}".`);
  return Math.round(ms);
}

/** A whole number within [min, max], or a usage error naming the option. */
export function parseIntOption(raw: string, option: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(raw.trim()) || Number(raw) < min || Number(raw) > max) {
    throw new UsageError(`${option} must be a whole number from ${min} to ${max}, got "${raw}".`);
  }
  return Number(raw);
}

/** An instant: ISO-8601 ("2026-11-24", "2026-11-24T10:00:00Z") or relative to now ("15m", "2h"). */
export function parseInstant(raw: string, option: string, now = Date.now()): Date {
  if (/^\d+(\.\d+)?(ms|s|m|h|d)$/.test(raw.trim())) return new Date(now - parseDuration(raw, option));
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(raw.trim())) {
    const date = new Date(raw.trim());
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw new UsageError(`${option} must be an ISO-8601 time (2026-11-24T10:00:00Z) or a duration ago (15m, 2h, 7d), got "${raw}".`);
}
