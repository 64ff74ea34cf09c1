/** Terminal charts: a horizontal bar per row, and a one-line sparkline. */
export function bars(rows: { label: string; value: number }[], width = 40): string[] {
  const max = Math.max(1, ...rows.map((r) => r.value));
  const labelWidth = Math.max(...rows.map((r) => r.label.length));
  return rows.map((r) => `${r.label.padStart(labelWidth)} │${'█'.repeat(Math.round((r.value / max) * width))} ${r.value}`);
}

const TICKS = '▁▂▃▄▅▆▇█';

export function sparkline(values: number[]): string {
  const max = Math.max(1, ...values);
  return values.map((v) => TICKS[Math.min(TICKS.length - 1, Math.floor((v / max) * (TICKS.length - 1)))]).join('');
}
