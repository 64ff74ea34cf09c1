import {
  binLowerMs, binOf, binUpperMs, binValueMs, LAST_BIN, LatencyBin, percentileFromBins, RELATIVE_ERROR,
} from '../../src/stats/histogram';
import { buildSeries, HOUR_MS, MINUTE_MS, planSegments, Segment, seriesWidthMinutes } from '../../src/stats/segments';
import { runs } from '../../src/stats/rollup';
import { whereOf } from '../../src/stats/sql';
import { GroupRow, summarise } from '../../src/stats/summary';

const at = (text: string) => new Date(`2026-11-24T${text}Z`);
const seg = (source: Segment['source'], from: string, to: string): Segment => ({ source, from: at(from), to: at(to) });

describe('latency bins', () => {
  test('eight bins per doubling from 0.1 ms; bin 0 below, the last one open-ended', () => {
    expect([binOf(0), binOf(0.05), binOf(-3), binOf(NaN)]).toEqual([0, 0, 0, 0]);
    expect(binOf(0.1)).toBe(1);
    expect(binOf(0.2)).toBe(9);
    expect(binOf(1e12)).toBe(LAST_BIN);
    for (const bin of [1, 2, 9, 50, 200]) {
      expect(binOf(binLowerMs(bin) * 1.0000001)).toBe(bin);
      expect(binOf(binUpperMs(bin) * 0.9999999)).toBe(bin);
    }
  });

  test('the value a bin stands for is within the stated relative error of anything in it', () => {
    expect(RELATIVE_ERROR).toBeCloseTo(0.0443, 4);
    for (let ms = 0.1; ms < 1e7; ms *= 1.013) {
      expect(Math.abs(binValueMs(binOf(ms)) - ms) / ms).toBeLessThanOrEqual(RELATIVE_ERROR + 1e-12);
    }
    expect(binValueMs(0)).toBe(0.05);
  });

  test('percentiles by nearest rank, capped by the exact maximum; nothing to rank is null', () => {
    const bins = [{ bin: binOf(1), sagas: 50 }, { bin: binOf(10), sagas: 45 }, { bin: binOf(100), sagas: 5 }];
    expect(percentileFromBins(bins, 50, null)).toBeCloseTo(binValueMs(binOf(1)));
    expect(percentileFromBins(bins, 51, null)).toBeCloseTo(binValueMs(binOf(10)));
    expect(percentileFromBins(bins, 95, null)).toBeCloseTo(binValueMs(binOf(10)));
    expect(percentileFromBins(bins, 99, null)).toBeCloseTo(binValueMs(binOf(100)));
    expect(percentileFromBins(bins, 99, 90)).toBe(90);
    expect(percentileFromBins([], 50, null)).toBeNull();
    expect(percentileFromBins([{ bin: 3, sagas: 0 }], 50, 1)).toBeNull();
    expect(percentileFromBins([{ bin: binOf(7), sagas: 1 }], 0, null)).toBeCloseTo(binValueMs(binOf(7)));
  });

  test('percentiles of a real spread stay within the bound of the exact ones', () => {
    const values = Array.from({ length: 10_000 }, (_, i) => 1 + ((i * 7919) % 10_000) / 37);
    const sorted = [...values].sort((a, b) => a - b);
    const counts = new Map<number, number>();
    for (const v of values) counts.set(binOf(v), (counts.get(binOf(v)) ?? 0) + 1);
    const bins: LatencyBin[] = [...counts].map(([bin, sagas]) => ({ bin, sagas }));
    for (const p of [50, 95, 99]) {
      const exact = sorted[Math.ceil((p / 100) * sorted.length) - 1];
      const estimate = percentileFromBins(bins, p, sorted[sorted.length - 1])!;
      expect(Math.abs(estimate - exact) / exact).toBeLessThanOrEqual(RELATIVE_ERROR);
    }
  });
});

describe('segments: each part of a window read once, from the cheapest source', () => {
  test('nothing rolled up: all raw', () => {
    expect(planSegments(at('10:00:00'), at('12:00:00'), null, true)).toEqual([seg('raw', '10:00:00', '12:00:00')]);
  });

  test('ragged edges raw, whole minutes and hours from the rollup, the unsettled tail raw', () => {
    expect(planSegments(at('08:10:30'), at('12:00:00'), at('11:20:00'), true)).toEqual([
      seg('raw', '08:10:30', '08:11:00'), seg('minute', '08:11:00', '09:00:00'), seg('hour', '09:00:00', '11:00:00'),
      seg('minute', '11:00:00', '11:20:00'), seg('raw', '11:20:00', '12:00:00')]);
  });

  test('a window that ends before the watermark ends in a raw partial minute', () => {
    expect(planSegments(at('09:00:00'), at('10:30:15'), at('11:00:00'), true)).toEqual([
      seg('hour', '09:00:00', '10:00:00'), seg('minute', '10:00:00', '10:30:00'), seg('raw', '10:30:00', '10:30:15')]);
  });

  test('without hours (a fine chart) minutes only; inside one minute, raw only', () => {
    expect(planSegments(at('09:00:00'), at('11:00:00'), at('12:00:00'), false)).toEqual([seg('minute', '09:00:00', '11:00:00')]);
    expect(planSegments(at('09:00:10'), at('09:00:50'), at('12:00:00'), true)).toEqual([seg('raw', '09:00:10', '09:00:50')]);
    expect(planSegments(at('09:00:10'), at('09:01:10'), at('09:01:00'), true)).toEqual([
      seg('raw', '09:00:10', '09:01:00'), seg('raw', '09:01:00', '09:01:10')]);
  });

  test('a window entirely after the watermark, and an empty window', () => {
    expect(planSegments(at('12:00:00'), at('13:00:00'), at('11:00:00'), true)).toEqual([seg('raw', '12:00:00', '13:00:00')]);
    expect(planSegments(at('12:00:00'), at('12:00:00'), at('11:00:00'), true)).toEqual([]);
  });

  test('segments tile the window exactly, whatever the edges', () => {
    for (let i = 0; i < 500; i++) {
      const s = Date.UTC(2026, 10, 24) + ((i * 7_919_113) % (6 * HOUR_MS));
      const u = s + ((i * 104_729) % (5 * HOUR_MS));
      const w = Date.UTC(2026, 10, 24) + ((i * 31) % 480) * MINUTE_MS;
      const plan = planSegments(new Date(s), new Date(u), i % 5 === 0 ? null : new Date(w), i % 2 === 0);
      let cursor = s;
      for (const g of plan) {
        expect(g.from.getTime()).toBe(cursor);
        expect(g.to.getTime()).toBeGreaterThan(cursor);
        if (g.source !== 'raw') expect(g.to.getTime()).toBeLessThanOrEqual(w);
        if (g.source === 'hour') expect(g.from.getTime() % HOUR_MS).toBe(0);
        cursor = g.to.getTime();
      }
      expect(cursor).toBe(u > s ? u : s);
    }
  });
});

describe('the throughput chart', () => {
  test('the narrowest width that fits in 60 points; whole hours from an hour up', () => {
    expect(seriesWidthMinutes(0, 30 * MINUTE_MS)).toBe(1);
    expect(seriesWidthMinutes(0, 2 * HOUR_MS)).toBe(2);
    expect(seriesWidthMinutes(0, 30 * 24 * HOUR_MS)).toBe(720);
    expect(seriesWidthMinutes(0, 365 * 24 * HOUR_MS)).toBe(10_080);
    expect(seriesWidthMinutes(0, 3650 * 24 * HOUR_MS)).toBe(61 * 1440);
    expect(seriesWidthMinutes(5, 5)).toBe(1);
  });

  test('points per minute, an edge point divided by the minutes it covers', () => {
    const from = Date.UTC(2026, 10, 24, 10, 30);
    const to = Date.UTC(2026, 10, 24, 12, 15);
    const buckets = [
      { bucket: new Date(Date.UTC(2026, 10, 24, 10, 45)), sagas: 30 },
      { bucket: new Date(Date.UTC(2026, 10, 24, 11)), sagas: 120 },
      { bucket: new Date(Date.UTC(2026, 10, 24, 12, 5)), sagas: 15 },
      { bucket: new Date(Date.UTC(2026, 10, 24, 13)), sagas: 999 },
    ];
    const s = buildSeries(buckets, from, to, 60);
    expect(s.from.toISOString()).toBe('2026-11-24T10:00:00.000Z');
    expect(s.perMinute).toEqual([1, 2, 1]);
    expect(s.averagePerMinute).toBe(Math.round((165 / 105) * 100) / 100);
  });
});

test('runs merges contiguous buckets', () => {
  expect(runs([5, 1, 2, 3, 9], 1)).toEqual([[1, 4], [5, 6], [9, 10]]);
  expect(runs([], 1)).toEqual([]);
});

test('whereOf: one placeholder per bound, numbered from the first free one, false when empty', () => {
  const w = whereOf([seg('raw', '08:10:30', '08:11:00'), seg('hour', '09:00:00', '11:00:00'), seg('minute', '11:00:00', '11:20:00')], 3);
  expect(w.rollup).toBe("(grain = 'hour' AND bucket >= $3::timestamp AND bucket < $4::timestamp) OR " +
    "(grain = 'minute' AND bucket >= $5::timestamp AND bucket < $6::timestamp)");
  expect(w.raw).toBe('(s.created_at >= $7::timestamp AND s.created_at < $8::timestamp)');
  expect(w.params).toEqual(['2026-11-24T09:00:00.000Z', '2026-11-24T11:00:00.000Z', '2026-11-24T11:00:00.000Z',
    '2026-11-24T11:20:00.000Z', '2026-11-24T08:10:30.000Z', '2026-11-24T08:11:00.000Z']);
  expect(whereOf([])).toEqual({ rollup: 'false', raw: 'false', params: [] });
});

describe('summarise', () => {
  const g = (status: string, mode: string, sagas: number, extra: Partial<GroupRow> = {}): GroupRow =>
    ({ status, mode, errorCode: '', failedStep: '', sagas, latencySumMs: null, latencyMaxMs: null, ...extra });
  const base = { bins: [], stuck: 0, series: null, window: { since: null, until: null, now: 'n' },
    rollup: { rolledUntil: null, settleMinutes: 5, minutesRolled: 0, minutesReRolled: 0 } };

  test('counts, rates, modes, errors and failed steps', () => {
    const s = summarise({
      ...base,
      stuck: 2,
      groups: [
        g('completed', 'orchestration', 6, { latencySumMs: 60, latencyMaxMs: 20 }),
        g('completed', 'choreography', 2, { latencySumMs: 10, latencyMaxMs: 30 }),
        g('failed', 'orchestration', 1, { errorCode: 'INSUFFICIENT_BALANCE', failedStep: 'validate_user' }),
        g('compensated', 'choreography', 2, { errorCode: 'INSUFFICIENT_STOCK', failedStep: 'reserve_inventory' }),
        g('compensation_failed', 'orchestration', 1, { errorCode: 'COMPENSATION_FAILED' }),
        g('in_progress', 'orchestration', 3),
      ],
      bins: [{ bin: binOf(5), sagas: 6 }, { bin: binOf(25), sagas: 2 }],
      topErrors: 2,
    });
    expect(s).toMatchObject({
      total: 15, completed: 8, failed: 1, compensated: 2, compensationFailed: 1, inProgress: 3, pending: 0, compensating: 0,
      successRate: 0.5333, compensationRate: 0.2, stuck: 2, byMode: { orchestration: 11, choreography: 4 },
      topErrors: [{ code: 'INSUFFICIENT_STOCK', count: 2 }, { code: 'COMPENSATION_FAILED', count: 1 }],
      failuresByStep: [{ step: 'validate_user', count: 1 }, { step: 'reserve_inventory', count: 2 },
        { step: 'log_transaction', count: 0 }, { step: 'send_notification', count: 0 }],
    });
    expect(s.latencyMs).toEqual({ count: 8, p50: Number(binValueMs(binOf(5)).toFixed(3)), p95: 24.515, p99: 24.515, max: 30,
      mean: 8.75, approximate: true, relativeError: 0.0443 });
  });

  test('no sagas: zero counts and null rates and latencies', () => {
    const s = summarise({ ...base, groups: [] });
    expect(s).toMatchObject({ total: 0, successRate: null, compensationRate: null, byMode: { orchestration: 0, choreography: 0 }, topErrors: [] });
    expect(s.latencyMs).toMatchObject({ count: 0, p50: null, max: null, mean: null });
  });
});
