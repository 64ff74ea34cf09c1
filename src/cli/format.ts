import { UsageError } from '../errors';
import { parseDuration } from '../duration';

/** 75 -> "1m15s": an age, an idle time, an ETA. */
export function shortDuration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`;
}

/** 1234567 -> "1,234,567". */
export const count = (n: number) => n.toLocaleString('en-US');

/** The output formats: every command that has --format takes these names (and `--json` means json). */
export const FORMATS = ['table', 'json', 'prometheus'] as const;
export type Format = (typeof FORMATS)[number];

/**
 * `--format` and `--json` read together, the same way everywhere. `text` is the old name of
 * `table` in `db health`, still taken so cron lines written for it keep working.
 */
export function chooseFormat(opts: { format?: string; json?: boolean }, allowed: readonly Format[] = FORMATS): Format {
  const raw = opts.format === 'text' ? 'table' : opts.format;
  if (raw !== undefined && !(allowed as readonly string[]).includes(raw)) {
    throw new UsageError(`--format must be one of ${allowed.join(', ')}, got "${opts.format}".`);
  }
  if (opts.json && raw !== undefined && raw !== 'json') throw new UsageError(`--json and --format ${raw} exclude each other.`);
  return opts.json ? 'json' : (raw as Format | undefined) ?? 'table';
}

/** `--watch 5s`, `--watch 2m`, or a bare number of seconds, from 1 s to a day. */
export function parseWatch(raw: string): number {
  const ms = parseDuration(raw, '--watch');
  if (ms < 1000 || ms > 86_400_000) throw new UsageError(`--watch must be from 1s to 24h, got "${raw}".`);
  return ms;
}
