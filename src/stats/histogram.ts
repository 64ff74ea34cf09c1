/**
 * Latency percentiles from a fixed log-scale histogram: counts per bin add up across buckets
 * (minutes, hours, the live tail), which exact percentiles cannot, so a month of sagas is summed
 * from a few thousand rows.
 *
 * Bin 0 holds latencies under 0.1 ms; bin i >= 1 holds [0.1 * 2^((i-1)/8), 0.1 * 2^(i/8)) ms,
 * eight bins per doubling; everything at or above the top bound lands in the last bin. A bin is
 * reported by its geometric middle, so an estimate is within a factor 2^(1/16) of a latency in
 * that bin: a relative error of at most 4.43% (and at most 0.05 ms in bin 0). The exact maximum
 * is kept separately and caps every estimate, which also bounds the open-ended last bin.
 */
export const BIN_BASE_MS = 0.1;
export const BINS_PER_DOUBLING = 8;
/** 0.1 ms * 2^32 ~ 4.97 days: a saga slower than that is in the last bin. */
export const LAST_BIN = 256;
export const RELATIVE_ERROR = 2 ** (1 / (2 * BINS_PER_DOUBLING)) - 1;

export interface LatencyBin { bin: number; sagas: number }

/** Lower bound of a bin in ms (bin 0 starts at 0). */
export function binLowerMs(bin: number): number {
  return bin === 0 ? 0 : BIN_BASE_MS * 2 ** ((bin - 1) / BINS_PER_DOUBLING);
}

export function binUpperMs(bin: number): number {
  return BIN_BASE_MS * 2 ** (bin / BINS_PER_DOUBLING);
}

/** The value a bin stands for: its geometric middle (bin 0: half its width). */
export function binValueMs(bin: number): number {
  return bin === 0 ? BIN_BASE_MS / 2 : BIN_BASE_MS * 2 ** ((bin - 0.5) / BINS_PER_DOUBLING);
}

/** The bin of a latency; the SQL twin (binSql in sql.ts) is what the rollup uses. */
export function binOf(ms: number): number {
  if (!(ms >= BIN_BASE_MS)) return 0;
  return Math.min(LAST_BIN, 1 + Math.floor(Math.log2(ms / BIN_BASE_MS) * BINS_PER_DOUBLING));
}

/**
 * The p-th percentile (nearest rank: the smallest value with at least p% of sagas at or below it)
 * from bin counts, capped by the exact maximum. null when there is nothing to rank.
 */
export function percentileFromBins(bins: readonly LatencyBin[], p: number, maxMs: number | null): number | null {
  const total = bins.reduce((n, b) => n + b.sagas, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  const sorted = [...bins].sort((a, b) => a.bin - b.bin);
  let seen = 0;
  for (const b of sorted) {
    seen += b.sagas;
    if (seen >= rank) return capAt(binValueMs(b.bin), maxMs);
  }
  return capAt(binValueMs(sorted[sorted.length - 1].bin), maxMs);
}

function capAt(value: number, maxMs: number | null): number {
  return maxMs === null ? value : Math.min(value, maxMs);
}
