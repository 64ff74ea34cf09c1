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
