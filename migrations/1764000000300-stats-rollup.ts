import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Pre-aggregated statistics, so `sagactl stats` answers in milliseconds over ten million sagas
 * instead of scanning saga_states (src/stats/rollup.ts keeps them up to date).
 *
 * Nothing here is written by a saga's own transactions: no trigger, no counter row. A counter
 * that every saga updates would serialise all sagas on one row lock and cost the engine its
 * throughput. Instead `stats` itself folds sagas into buckets once their created_at minute is
 * older than a settle time, and reads the unsettled tail straight from saga_states.
 *
 * - saga_stats_rollup: sagas per bucket (a created_at minute, and whole hours summed from the
 *   minutes so a month is ~720 rows instead of ~43,000) and per status, mode, error code and the
 *   forward step that failed; '' stands for "none" so the primary key covers every row. Completed
 *   sagas also carry their latency sum and max (created_at -> completed_at).
 * - saga_stats_latency: completed sagas per bucket and latency bin (fixed log-scale bins, 8 per
 *   doubling from 0.1 ms; src/stats/histogram.ts), stored sparse: only bins that hold sagas.
 * - saga_stats_dirty: created_at minutes to fold again because a saga in them changed status after
 *   they were rolled up (operator compensate/recover call markStatsDirty).
 * - saga_stats_state: one row, how far the rollup reaches (rolled_until) and which physical file
 *   of saga_states it was built from: TRUNCATE gives the table a new file, so a reset table never
 *   leaves stale statistics behind.
 * The tables are new and empty, so building their indexes in this transaction blocks nobody.
 */
export class StatsRollup1764000000300 implements MigrationInterface {
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE saga_stats_rollup (
      grain          VARCHAR(6) NOT NULL CONSTRAINT saga_stats_rollup_grain_known CHECK (grain IN ('minute', 'hour')),
      bucket         TIMESTAMP NOT NULL,
      status         VARCHAR(20) NOT NULL,
      mode           VARCHAR(20) NOT NULL,
      error_code     VARCHAR(50) NOT NULL DEFAULT '',
      failed_step    VARCHAR(50) NOT NULL DEFAULT '',
      sagas          BIGINT NOT NULL,
      latency_sum_ms DOUBLE PRECISION NULL,
      latency_max_ms DOUBLE PRECISION NULL,
      PRIMARY KEY (grain, bucket, status, mode, error_code, failed_step)
    )`);
    // Sagas that may still change status on their own; `stats` compares these counts with the live
    // table to catch a saga that moved after its minute was rolled up without anyone marking it.
    await q.query(`CREATE INDEX saga_stats_rollup_unsettled ON saga_stats_rollup (bucket, status)
      WHERE grain = 'minute' AND status IN ('pending', 'in_progress', 'compensating', 'compensation_failed')`);
    await q.query(`CREATE TABLE saga_stats_latency (
      grain  VARCHAR(6) NOT NULL CONSTRAINT saga_stats_latency_grain_known CHECK (grain IN ('minute', 'hour')),
      bucket TIMESTAMP NOT NULL,
      bin    SMALLINT NOT NULL CONSTRAINT saga_stats_latency_bin_range CHECK (bin >= 0),
      sagas  BIGINT NOT NULL,
      PRIMARY KEY (grain, bucket, bin)
    )`);
    await q.query(`CREATE TABLE saga_stats_dirty (
      minute    TIMESTAMP PRIMARY KEY,
      marked_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE saga_stats_state (
      id              BOOLEAN PRIMARY KEY DEFAULT true CONSTRAINT saga_stats_state_one_row CHECK (id),
      rolled_until    TIMESTAMP NULL,
      source_filenode OID NULL,
      refreshed_at    TIMESTAMPTZ NULL
    )`);
    await q.query('INSERT INTO saga_stats_state DEFAULT VALUES');
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['saga_stats_state', 'saga_stats_dirty', 'saga_stats_latency', 'saga_stats_rollup']) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
