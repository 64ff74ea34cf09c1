import { BIN_BASE_MS, BINS_PER_DOUBLING, LAST_BIN } from './histogram';
import { Segment } from './segments';

/**
 * The SQL of the statistics, built by pure functions. Only constants of this code base are
 * written into the text (status names, bin constants, the error-code-to-step table); every value
 * that comes from a user or the clock is a parameter.
 */

/**
 * Error codes that only one step can raise: the step a saga failed at follows from its code,
 * so generated sagas (which have no step rows) and real ones are classified alike. A code any
 * step may carry (ITEM_NOT_FOUND, INJECTED_FAILURE, COMPENSATION_FAILED, an operator's) is looked
 * up in the saga's failed forward step row instead.
 */
export const STEP_OF_ERROR: Readonly<Record<string, string>> = {
  USER_NOT_FOUND: 'validate_user',
  USER_NOT_ACTIVE: 'validate_user',
  PURCHASE_LIMIT_EXCEEDED: 'validate_user',
  INSUFFICIENT_BALANCE: 'validate_user',
  ITEM_NOT_AVAILABLE: 'reserve_inventory',
  INSUFFICIENT_STOCK: 'reserve_inventory',
  LOG_FAILED: 'log_transaction',
};

/** Statuses a saga may still leave without an operator, and compensation_failed, which waits for one. */
export const UNSETTLED = ['pending', 'in_progress', 'compensating', 'compensation_failed'] as const;

const quote = (text: string) => `'${text.replace(/'/g, "''")}'`;
const codeCases = Object.entries(STEP_OF_ERROR).map(([code, step]) => `WHEN ${quote(code)} THEN ${quote(step)}`).join(' ');

/** The forward step a saga (alias s) failed at; '' for sagas that did not fail. */
export const FAILED_STEP = `CASE WHEN s.status IN ('failed', 'compensating', 'compensated', 'compensation_failed') THEN COALESCE(
    CASE s.error_code ${codeCases} END,
    (SELECT r.step FROM saga_step_results r
      WHERE r.transaction_id = s.transaction_id AND r.kind = 'forward' AND r.status = 'failed' ORDER BY r.id LIMIT 1),
    '') ELSE '' END`;

/**
 * created_at -> completed_at of a completed saga (alias s), in ms; NULL for the others.
 * date_part, not extract: it stays in float8, where extract computes in numeric, several times
 * slower over the ten million rows of a first build.
 */
export const LATENCY_MS = `CASE WHEN s.status = 'completed' AND s.completed_at IS NOT NULL
    THEN date_part('epoch', s.completed_at - s.created_at) * 1000 END`;

/** The histogram bin of a latency in ms, NULL for none (the twin of binOf in histogram.ts). */
export function binSql(ms: string): string {
  return `CASE WHEN ${ms} IS NULL THEN NULL WHEN ${ms} < ${BIN_BASE_MS} THEN 0
    ELSE LEAST(${LAST_BIN}, 1 + floor(ln(${ms} / ${BIN_BASE_MS}) / ln(2) * ${BINS_PER_DOUBLING})::int) END`;
}

/** A saga's (alias s) contribution to the statistics, grouped into minute rows. */
const minuteGroups = (where: string) => `
  SELECT date_trunc('minute', s.created_at) AS bucket, s.status, s.mode, COALESCE(s.error_code, '') AS error_code,
         ${FAILED_STEP} AS failed_step, ${binSql('l.ms')} AS bin,
         count(*) AS sagas, sum(l.ms) AS latency_sum_ms, max(l.ms) AS latency_max_ms
    FROM saga_states s CROSS JOIN LATERAL (SELECT ${LATENCY_MS} AS ms) l
   WHERE ${where}
   GROUP BY 1, 2, 3, 4, 5, 6`;

/**
 * Folds the sagas created in [$1, $2) (minute-aligned) into minute rows, with what `saga prune`
 * deleted from those minutes added back (saga_stats_pruned): one index range scan feeds both
 * tables. The range's old rows must be deleted first (DELETE_RANGE_SQL).
 */
export const ROLL_MINUTES_SQL = `
WITH g AS MATERIALIZED (${minuteGroups('s.created_at >= $1::timestamp AND s.created_at < $2::timestamp')}),
counts AS (
  INSERT INTO saga_stats_rollup (grain, bucket, status, mode, error_code, failed_step, sagas, latency_sum_ms, latency_max_ms)
  SELECT 'minute', bucket, status, mode, error_code, failed_step, sum(sagas), sum(latency_sum_ms), max(latency_max_ms)
    FROM (SELECT bucket, status, mode, error_code, failed_step, sagas, latency_sum_ms, latency_max_ms FROM g
          UNION ALL
          SELECT bucket, status, mode, error_code, failed_step, sagas, latency_sum_ms, latency_max_ms FROM saga_stats_pruned
           WHERE bucket >= $1::timestamp AND bucket < $2::timestamp) x
   GROUP BY bucket, status, mode, error_code, failed_step
  RETURNING 1)
INSERT INTO saga_stats_latency (grain, bucket, bin, sagas)
SELECT 'minute', bucket, bin, sum(sagas)
  FROM (SELECT bucket, bin, sagas FROM g WHERE bin IS NOT NULL
        UNION ALL
        SELECT bucket, bin, sagas FROM saga_stats_pruned_latency WHERE bucket >= $1::timestamp AND bucket < $2::timestamp) x
 GROUP BY bucket, bin`;

/**
 * Keeps what the statistics counted of the sagas $1 (ids) before `saga prune` deletes them, added
 * to what earlier prunes kept. Run while their step rows still exist (FAILED_STEP reads them).
 */
export const KEEP_PRUNED_SQL = `
WITH g AS MATERIALIZED (${minuteGroups('s.transaction_id = ANY($1::text[])')}),
counts AS (
  INSERT INTO saga_stats_pruned AS p (bucket, status, mode, error_code, failed_step, sagas, latency_sum_ms, latency_max_ms)
  SELECT bucket, status, mode, error_code, failed_step, sum(sagas), sum(latency_sum_ms), max(latency_max_ms)
    FROM g GROUP BY bucket, status, mode, error_code, failed_step
  ON CONFLICT (bucket, status, mode, error_code, failed_step) DO UPDATE
     SET sagas = p.sagas + EXCLUDED.sagas,
         latency_sum_ms = CASE WHEN p.latency_sum_ms IS NULL AND EXCLUDED.latency_sum_ms IS NULL THEN NULL
                               ELSE COALESCE(p.latency_sum_ms, 0) + COALESCE(EXCLUDED.latency_sum_ms, 0) END,
         latency_max_ms = GREATEST(p.latency_max_ms, EXCLUDED.latency_max_ms)
  RETURNING 1)
INSERT INTO saga_stats_pruned_latency AS p (bucket, bin, sagas)
SELECT bucket, bin, sum(sagas) FROM g WHERE bin IS NOT NULL GROUP BY bucket, bin
ON CONFLICT (bucket, bin) DO UPDATE SET sagas = p.sagas + EXCLUDED.sagas`;

/**
 * The reverse, for sagas $1 (ids) that `saga import` brings back: what was kept of them is taken
 * out again (never below zero), so a minute folded again counts each saga once. A pruned minute's
 * max latency cannot be un-maxed; it stays as it was.
 */
export const RETURN_PRUNED_SQL = [`
WITH g AS MATERIALIZED (${minuteGroups('s.transaction_id = ANY($1::text[])')}),
counts AS (
  UPDATE saga_stats_pruned p SET sagas = p.sagas - LEAST(p.sagas, x.sagas),
         latency_sum_ms = p.latency_sum_ms - COALESCE(x.latency_sum_ms, 0)
    FROM (SELECT bucket, status, mode, error_code, failed_step, sum(sagas) AS sagas, sum(latency_sum_ms) AS latency_sum_ms
            FROM g GROUP BY 1, 2, 3, 4, 5) x
   WHERE (p.bucket, p.status, p.mode, p.error_code, p.failed_step) = (x.bucket, x.status, x.mode, x.error_code, x.failed_step)
  RETURNING 1)
UPDATE saga_stats_pruned_latency p SET sagas = p.sagas - LEAST(p.sagas, x.sagas)
  FROM (SELECT bucket, bin, sum(sagas) AS sagas FROM g WHERE bin IS NOT NULL GROUP BY 1, 2) x
 WHERE p.bucket = x.bucket AND p.bin = x.bin`,
'DELETE FROM saga_stats_pruned WHERE sagas = 0',
'DELETE FROM saga_stats_pruned_latency WHERE sagas = 0'];

/** Params: $1 grain, [$2, $3) the buckets. */
export const DELETE_RANGE_SQL = [
  'DELETE FROM saga_stats_rollup WHERE grain = $1 AND bucket >= $2::timestamp AND bucket < $3::timestamp',
  'DELETE FROM saga_stats_latency WHERE grain = $1 AND bucket >= $2::timestamp AND bucket < $3::timestamp',
];

/** Sums the minute rows of the hours in [$1, $2) (hour-aligned) into hour rows, deleted first. */
export const ROLL_HOURS_SQL = [
  `INSERT INTO saga_stats_rollup (grain, bucket, status, mode, error_code, failed_step, sagas, latency_sum_ms, latency_max_ms)
   SELECT 'hour', date_trunc('hour', bucket), status, mode, error_code, failed_step, sum(sagas), sum(latency_sum_ms), max(latency_max_ms)
     FROM saga_stats_rollup WHERE grain = 'minute' AND bucket >= $1::timestamp AND bucket < $2::timestamp
    GROUP BY 2, 3, 4, 5, 6`,
  `INSERT INTO saga_stats_latency (grain, bucket, bin, sagas)
   SELECT 'hour', date_trunc('hour', bucket), bin, sum(sagas)
     FROM saga_stats_latency WHERE grain = 'minute' AND bucket >= $1::timestamp AND bucket < $2::timestamp
    GROUP BY 2, 3`,
];

/**
 * Minutes in [$2, $1) (up to the watermark) whose count of unsettled sagas differs between the
 * rollup and the live table: a saga there moved on after its minute was rolled up. Cost follows
 * the number of unsettled sagas in that span (the (status, created_at) index), not the table size.
 */
export const DRIFTED_MINUTES_SQL = `
WITH live AS (
  SELECT date_trunc('minute', created_at) AS bucket, status, count(*) AS n FROM saga_states
   WHERE status IN (${UNSETTLED.map(quote).join(', ')}) AND created_at >= $2::timestamp AND created_at < $1::timestamp GROUP BY 1, 2),
rolled AS (
  SELECT bucket, status, sum(sagas) AS n FROM saga_stats_rollup
   WHERE grain = 'minute' AND status IN (${UNSETTLED.map(quote).join(', ')}) AND bucket >= $2::timestamp AND bucket < $1::timestamp
   GROUP BY 1, 2)
SELECT DISTINCT bucket FROM live FULL JOIN rolled USING (bucket, status) WHERE live.n IS DISTINCT FROM rolled.n`;

export const iso = (d: Date) => d.toISOString();

export interface Where { rollup: string; raw: string; params: string[] }

/**
 * WHERE clauses selecting the segments: rollup rows of the right grain and buckets, and
 * saga_states rows (alias s) by created_at. Timestamps go as ISO text cast to timestamp, UTC
 * like the columns, whatever this machine's time zone.
 */
export function whereOf(segments: readonly Segment[], firstParam = 1): Where {
  const params: string[] = [];
  const range = (column: string, seg: Segment) => {
    params.push(iso(seg.from), iso(seg.to));
    const n = firstParam + params.length;
    return `${column} >= $${n - 2}::timestamp AND ${column} < $${n - 1}::timestamp`;
  };
  const rollup = segments.filter((g) => g.source !== 'raw').map((g) => `(grain = '${g.source}' AND ${range('bucket', g)})`);
  const raw = segments.filter((g) => g.source === 'raw').map((g) => `(${range('s.created_at', g)})`);
  return { rollup: rollup.join(' OR ') || 'false', raw: raw.join(' OR ') || 'false', params };
}
