/**
 * The Prometheus text exposition format's two details both exporters (db health, stats) share:
 * how a value is written and how a label is escaped.
 */

/**
 * Rounded to six decimals, so binary float noise never reaches the file (0.024515000000000002 is
 * written 0.024515): a microsecond for seconds, far below anything a ratio or a size needs.
 */
export function formatSample(value: number | null): string {
  if (value === null || Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(Number(value.toFixed(6)));
}

/** Backslash, double quote and line feed are the three characters a label value escapes. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function labelText(labels: Record<string, string>): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return pairs.length > 0 ? `{${pairs.join(',')}}` : '';
}
