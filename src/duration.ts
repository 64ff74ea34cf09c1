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

/**
 * An instant: ISO-8601 ("2026-11-24", "2026-11-24T10:00:00Z") or relative to now ("15m", "2h").
 * Without a zone it is UTC, like the date-only form and the database's timestamps, whatever the
 * machine's time zone. A date that does not exist ("2026-02-30") is refused, not rolled over.
 */
export function parseInstant(raw: string, option: string, now = Date.now()): Date {
  const text = raw.trim();
  if (/^\d+(\.\d+)?(ms|s|m|h|d)$/.test(text)) return new Date(now - parseDuration(text, option));
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(text);
  if (m) {
    const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone = 'Z'] = m;
    const daysInMonth = new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate();
    const valid = Number(mo) >= 1 && Number(mo) <= 12 && Number(d) >= 1 && Number(d) <= daysInMonth &&
      Number(h) <= 23 && Number(mi) <= 59 && Number(s) <= 59;
    const offset = zone.toUpperCase() === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
    const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}${frac.slice(0, 4)}${offset}`);
    if (valid && !Number.isNaN(date.getTime())) return date;
  }
  throw new UsageError(`${option} must be an ISO-8601 time (2026-11-24T10:00:00Z) or a duration ago (15m, 2h, 7d), got "${raw}".`);
}
