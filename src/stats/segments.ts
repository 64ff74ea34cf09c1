/**
 * Which source answers which part of a window. Everything created before `rolledUntil` is in the
 * rollup (minutes, and whole hours summed from them); the rest, and the ragged edges of a window
 * that does not start or end on a minute, is read from saga_states by created_at, which its index
 * makes cheap because those slices are short. Pure, so the arithmetic is unit-tested.
 */
export type Source = 'raw' | 'minute' | 'hour';

export interface Segment { source: Source; from: Date; to: Date }

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

const round2 = (x: number) => Math.round(x * 100) / 100;
const floorTo = (ms: number, unit: number) => Math.floor(ms / unit) * unit;
const ceilTo = (ms: number, unit: number) => Math.ceil(ms / unit) * unit;

/**
 * Splits [since, until) into segments that cover it exactly once. `useHours` is false when the
 * throughput chart needs finer points than an hour; rolledUntil is minute-aligned (or null).
 */
export function planSegments(since: Date, until: Date, rolledUntil: Date | null, useHours: boolean): Segment[] {
  const s = since.getTime();
  const u = until.getTime();
  if (s >= u) return [];
  const w = rolledUntil?.getTime() ?? Number.NEGATIVE_INFINITY;
  const out: Segment[] = [];
  const add = (source: Source, from: number, to: number) => {
    if (from < to) out.push({ source, from: new Date(from), to: new Date(to) });
  };
  const rolledEnd = Math.min(u, w);
  if (s < rolledEnd) {
    const a = ceilTo(s, MINUTE_MS);
    const b = floorTo(rolledEnd, MINUTE_MS);
    if (a >= b) {
      add('raw', s, rolledEnd);
    } else {
      add('raw', s, a);
      const ha = useHours ? ceilTo(a, HOUR_MS) : b;
      const hb = useHours ? floorTo(b, HOUR_MS) : b;
      if (ha < hb) {
        add('minute', a, ha);
        add('hour', ha, hb);
        add('minute', hb, b);
      } else {
        add('minute', a, b);
      }
      add('raw', b, rolledEnd);
    }
  }
  add('raw', Math.max(s, w), u);
  return out;
}

/** Point widths of the throughput chart, in minutes; whole hours from 60 on, so hour buckets fit. */
const WIDTHS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10_080];

/** The narrowest width that draws the window in at most maxPoints points. */
export function seriesWidthMinutes(fromMs: number, toMs: number, maxPoints = 60): number {
  const minutes = Math.max(1, (toMs - fromMs) / MINUTE_MS);
  const width = WIDTHS.find((w) => minutes / w <= maxPoints);
  return width ?? Math.ceil(minutes / maxPoints / 1440) * 1440;
}

export interface Series {
  /** Minutes per point. */
  bucketMinutes: number;
  /** Start of the first point (aligned to a multiple of its width since the Unix epoch, UTC). */
  from: Date;
  /** Sagas created per minute in each point, over the part of the point inside the window. */
  perMinute: number[];
  /** Sagas per minute over the whole chart. */
  averagePerMinute: number;
}

/**
 * Sagas per minute for each point of [fromMs, toMs), from minute-or-coarser buckets. A point at
 * an edge of the window is divided by the minutes it really covers, so it is not drawn low.
 */
export function buildSeries(buckets: readonly { bucket: Date; sagas: number }[], fromMs: number, toMs: number, widthMin: number): Series {
  const width = widthMin * MINUTE_MS;
  const start = floorTo(fromMs, width);
  const points = Math.max(1, Math.ceil((toMs - start) / width));
  const counts = new Array<number>(points).fill(0);
  for (const { bucket, sagas } of buckets) {
    const i = Math.floor((bucket.getTime() - start) / width);
    if (i >= 0 && i < points) counts[i] += sagas;
  }
  const perMinute = counts.map((n, i) => {
    const covered = Math.min(toMs, start + (i + 1) * width) - Math.max(fromMs, start + i * width);
    return covered > 0 ? round2(n / (covered / MINUTE_MS)) : 0;
  });
  const all = counts.reduce((a, b) => a + b, 0);
  return { bucketMinutes: widthMin, from: new Date(start), perMinute, averagePerMinute: round2(all / (Math.max(1000, toMs - fromMs) / MINUTE_MS)) };
}
