import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What `saga prune` deleted, as the statistics counted it: the same minute rows as the rollup
 * (migration 1764000000300), kept apart because the rollup of a minute is rebuilt from
 * saga_states whenever a saga of that minute moves again (or the rollup is reset), and a pruned
 * saga is no longer there to be counted. Rebuilding a minute adds these rows back in, so `stats`
 * counts a pruned saga forever, exactly as before it was pruned.
 */
export class StatsPruned1764000000640 implements MigrationInterface {
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE saga_stats_pruned (
      bucket         TIMESTAMP NOT NULL,
      status         VARCHAR(20) NOT NULL,
      mode           VARCHAR(20) NOT NULL,
      error_code     VARCHAR(50) NOT NULL DEFAULT '',
      failed_step    VARCHAR(50) NOT NULL DEFAULT '',
      sagas          BIGINT NOT NULL,
      latency_sum_ms DOUBLE PRECISION NULL,
      latency_max_ms DOUBLE PRECISION NULL,
      PRIMARY KEY (bucket, status, mode, error_code, failed_step)
    )`);
    await q.query(`CREATE TABLE saga_stats_pruned_latency (
      bucket TIMESTAMP NOT NULL,
      bin    SMALLINT NOT NULL CONSTRAINT saga_stats_pruned_latency_bin_range CHECK (bin >= 0),
      sagas  BIGINT NOT NULL,
      PRIMARY KEY (bucket, bin)
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE IF EXISTS saga_stats_pruned_latency');
    await q.query('DROP TABLE IF EXISTS saga_stats_pruned');
  }
}
