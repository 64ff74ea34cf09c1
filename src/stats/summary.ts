import { MODES, SAGA_STATUS, STEPS } from '../saga/types';
import { LatencyBin, percentileFromBins, RELATIVE_ERROR } from './histogram';
import { Series } from './segments';

/** One group of sagas as the rollup and the live tail return them together. */
export interface GroupRow {
  status: string;
  mode: string;
  /** '' when the saga has no error code. */
  errorCode: string;
  /** '' when the saga did not fail at a forward step. */
  failedStep: string;
  sagas: number;
  latencySumMs: number | null;
  latencyMaxMs: number | null;
}

type StatusKey = keyof typeof SAGA_STATUS;

export interface SagaStats {
  window: { since: string | null; until: string | null; now: string };
  total: number;
  pending: number;
  inProgress: number;
  completed: number;
  failed: number;
  compensating: number;
  compensated: number;
  compensationFailed: number;
  /** completed / total, null when there are no sagas; compensationRate likewise for compensating+compensated+compensation_failed. */
  successRate: number | null;
  compensationRate: number | null;
  /** Not in a final status and nobody's lease is running. */
  stuck: number;
  byMode: Record<string, number>;
  latencyMs: {
    count: number;
    p50: number | null;
    p95: number | null;
    p99: number | null;
    max: number | null;
    mean: number | null;
    /** Percentiles are estimated from log-scale bins; max, mean and count are exact. */
    approximate: true;
    relativeError: number;
  };
  throughput: Series | null;
  topErrors: { code: string; count: number }[];
  /** Sagas that failed at each forward step (failed, compensating, compensated, compensation_failed). */
  failuresByStep: { step: string; count: number }[];
  rollup: { rolledUntil: string | null; settleMinutes: number; minutesRolled: number; minutesReRolled: number; note?: string };
}

export interface SummaryInput {
  groups: readonly GroupRow[];
  bins: readonly LatencyBin[];
  stuck: number;
  series: Series | null;
  window: SagaStats['window'];
  rollup: SagaStats['rollup'];
  topErrors?: number;
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
const rate = (n: number, total: number) => (total === 0 ? null : round(n / total, 4));

/** Turns grouped counts, latency bins and the stuck count into the figures `stats` prints. Pure. */
export function summarise(input: SummaryInput): SagaStats {
  const byStatus = new Map<string, number>();
  const byMode: Record<string, number> = Object.fromEntries(MODES.map((m) => [m, 0]));
  const errors = new Map<string, number>();
  const steps = new Map<string, number>(STEPS.map((s) => [s, 0]));
  let total = 0;
  let latencySum = 0;
  let latencyMax: number | null = null;
  for (const g of input.groups) {
    total += g.sagas;
    byStatus.set(g.status, (byStatus.get(g.status) ?? 0) + g.sagas);
    byMode[g.mode] = (byMode[g.mode] ?? 0) + g.sagas;
    if (g.errorCode !== '') errors.set(g.errorCode, (errors.get(g.errorCode) ?? 0) + g.sagas);
    if (g.failedStep !== '') steps.set(g.failedStep, (steps.get(g.failedStep) ?? 0) + g.sagas);
    if (g.status === SAGA_STATUS.completed) {
      latencySum += g.latencySumMs ?? 0;
      if (g.latencyMaxMs !== null) latencyMax = Math.max(latencyMax ?? 0, g.latencyMaxMs);
    }
  }
  const counts = Object.fromEntries(Object.entries(SAGA_STATUS).map(([key, status]) => [key, byStatus.get(status) ?? 0])) as Record<StatusKey, number>;
  const timed = input.bins.reduce((n, b) => n + b.sagas, 0);
  const pct = (p: number) => {
    const v = percentileFromBins(input.bins, p, latencyMax);
    return v === null ? null : round(v, 3);
  };
  return {
    window: input.window,
    total,
    ...counts,
    successRate: rate(counts.completed, total),
    compensationRate: rate(counts.compensating + counts.compensated + counts.compensationFailed, total),
    stuck: input.stuck,
    byMode,
    latencyMs: {
      count: timed,
      p50: pct(50),
      p95: pct(95),
      p99: pct(99),
      max: latencyMax === null ? null : round(latencyMax, 3),
      mean: timed === 0 ? null : round(latencySum / timed, 3),
      approximate: true,
      relativeError: round(RELATIVE_ERROR, 4),
    },
    throughput: input.series,
    topErrors: [...errors].map(([code, count]) => ({ code, count }))
      .sort((a, b) => b.count - a.count || a.code.localeCompare(b.code)).slice(0, input.topErrors ?? 10),
    failuresByStep: [...steps].map(([step, count]) => ({ step, count })),
    rollup: input.rollup,
  };
}
