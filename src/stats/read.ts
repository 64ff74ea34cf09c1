import { Db, Tx } from '../db/pool';
import { DEFAULT_OLDER_THAN_MS, deadLocalOwners, stuckCondition } from '../saga/stuck';
import { LatencyBin } from './histogram';
import { refreshRollup, RefreshOptions, RefreshResult, SETTLE_MS } from './rollup';
import { buildSeries, MINUTE_MS, planSegments, seriesWidthMinutes, Series } from './segments';
import { binSql, FAILED_STEP, iso, LATENCY_MS, Where, whereOf } from './sql';
import { GroupRow, SagaStats, summarise } from './summary';

export interface StatsOptions extends RefreshOptions {
  /** created_at >= since; all time when absent. */
  since?: Date;
  /** created_at < until; up to now when absent. */
  until?: Date;
  /** Points of the throughput chart at most. */
  maxPoints?: number;
  /** The stuck rule's --older-than (src/saga/stuck.ts). */
  olderThanMs?: number;
}

// The open ends of a window, within the range of a PostgreSQL timestamp.
const MIN_TIME = Date.parse('0001-01-01T00:00:00Z');
const MAX_TIME = Date.parse('9999-12-31T00:00:00Z');

const GROUPS_SQL = (w: Where) => `
SELECT status, mode, error_code AS "errorCode", failed_step AS "failedStep", sum(sagas)::bigint AS sagas,
       sum(latency_sum_ms) AS "latencySumMs", max(latency_max_ms) AS "latencyMaxMs"
  FROM (SELECT status, mode, error_code, failed_step, sagas, latency_sum_ms, latency_max_ms
          FROM saga_stats_rollup WHERE ${w.rollup}
        UNION ALL
        SELECT s.status, s.mode, COALESCE(s.error_code, ''), ${FAILED_STEP}, 1, l.ms, l.ms
          FROM saga_states s CROSS JOIN LATERAL (SELECT ${LATENCY_MS} AS ms) l WHERE ${w.raw}) p
 GROUP BY 1, 2, 3, 4`;

const BINS_SQL = (w: Where) => `
SELECT bin, sum(sagas)::bigint AS sagas
  FROM (SELECT bin, sagas FROM saga_stats_latency WHERE ${w.rollup}
        UNION ALL
        SELECT ${binSql('l.ms')}, 1 FROM saga_states s CROSS JOIN LATERAL (SELECT ${LATENCY_MS} AS ms) l
         WHERE (${w.raw}) AND l.ms IS NOT NULL) p
 GROUP BY bin`;

const SERIES_SQL = (w: Where) => `
SELECT bucket, sum(sagas)::bigint AS sagas
  FROM (SELECT bucket, sagas FROM saga_stats_rollup WHERE ${w.rollup}
        UNION ALL
        SELECT date_trunc('minute', s.created_at), 1 FROM saga_states s WHERE ${w.raw}) p
 GROUP BY bucket`;

const STUCK_SQL = `
SELECT count(*)::bigint AS n FROM saga_states s
 WHERE s.status IN ('pending', 'in_progress', 'compensating', 'compensation_failed') AND ${stuckCondition('s', '$3', '$4')}
   AND s.created_at >= $1::timestamp AND s.created_at < $2::timestamp`;

/**
 * The statistics of the sagas created in [since, until): the rollup brought up to date first,
 * then everything read in one REPEATABLE READ snapshot, so the rollup's watermark, its rows and
 * the live tail agree with each other.
 */
export async function getStats(db: Db, opts: StatsOptions = {}): Promise<SagaStats> {
  const refreshed = await refreshRollup(db, opts);
  const dead = await deadLocalOwners(db);
  return db.withTransaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    // Every query here reads a few thousand rows by design; JIT compiling them would cost more.
    await tx.query('SET LOCAL jit = off');
    return readStats(tx, opts, refreshed, dead);
  });
}

async function readStats(tx: Tx, opts: StatsOptions, refreshed: RefreshResult, dead: string[]): Promise<SagaStats> {
  const since = opts.since?.getTime() ?? MIN_TIME;
  const until = opts.until?.getTime() ?? MAX_TIME;
  const { rows: [head] } = await tx.query(
    // A rollup built from another incarnation of saga_states (truncated since, on a read-only
    // server where the refresh could not start over) is not used at all.
    `SELECT (SELECT rolled_until FROM saga_stats_state WHERE source_filenode = pg_relation_filenode('saga_states')) AS "rolledUntil",
            timezone('UTC', now()) AS now,
            (SELECT min(created_at) FROM saga_states WHERE created_at >= $1::timestamp AND created_at < $2::timestamp) AS first`,
    [iso(new Date(since)), iso(new Date(until))]);
  const now: Date = head.now;
  // The chart runs from the first saga (or --since) to now (or --until).
  const chartFrom = Math.max(since, head.first ? Math.floor(head.first.getTime() / MINUTE_MS) * MINUTE_MS : until);
  const chartTo = Math.min(until, now.getTime() + 1);
  const width = seriesWidthMinutes(chartFrom, chartTo, opts.maxPoints);
  const where = whereOf(planSegments(new Date(since), new Date(until), head.rolledUntil, width % 60 === 0));
  const groups = (await tx.query(GROUPS_SQL(where), where.params)).rows.map((r): GroupRow => ({
    ...r, sagas: Number(r.sagas),
  }));
  const bins = (await tx.query(BINS_SQL(where), where.params)).rows.map((r): LatencyBin => ({ bin: r.bin, sagas: Number(r.sagas) }));
  let series: Series | null = null;
  if (head.first && chartFrom < chartTo) {
    const buckets = (await tx.query(SERIES_SQL(where), where.params)).rows.map((r) => ({ bucket: r.bucket as Date, sagas: Number(r.sagas) }));
    series = buildSeries(buckets, chartFrom, chartTo, width);
  }
  const { rows: [stuck] } = await tx.query(STUCK_SQL, [iso(new Date(since)), iso(new Date(until)), opts.olderThanMs ?? DEFAULT_OLDER_THAN_MS, dead]);
  return summarise({
    groups,
    bins,
    stuck: Number(stuck.n),
    series,
    window: { since: opts.since ? iso(opts.since) : null, until: opts.until ? iso(opts.until) : null, now: iso(now) },
    rollup: {
      rolledUntil: head.rolledUntil ? iso(head.rolledUntil) : null,
      settleMinutes: (opts.settleMs ?? SETTLE_MS) / MINUTE_MS,
      minutesRolled: refreshed.minutesRolled,
      minutesReRolled: refreshed.minutesReRolled,
      ...(refreshed.skipped ? { note: refreshed.skipped } : {}),
    },
  });
}
