import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * The statistics rollup (migrations/1764000000300-stats-rollup.ts): derived data that `sagactl
 * stats` keeps up to date itself. Mapped so the entity set covers every table; never written by
 * an application.
 */
@Entity('saga_stats_rollup')
@Check('saga_stats_rollup_grain_known', `grain IN ('minute', 'hour')`)
@Index('saga_stats_rollup_unsettled', ['bucket', 'status'],
  { where: `grain = 'minute' AND status IN ('pending', 'in_progress', 'compensating', 'compensation_failed')` })
export class SagaStatsRollup {
  @PrimaryColumn({ type: 'varchar', length: 6 }) grain!: string;
  @PrimaryColumn({ type: 'timestamp' }) bucket!: Date;
  @PrimaryColumn({ type: 'varchar', length: 20 }) status!: string;
  @PrimaryColumn({ type: 'varchar', length: 20 }) mode!: string;
  @PrimaryColumn({ name: 'error_code', type: 'varchar', length: 50, default: '' }) errorCode!: string;
  @PrimaryColumn({ name: 'failed_step', type: 'varchar', length: 50, default: '' }) failedStep!: string;
  @Column({ type: 'bigint' }) sagas!: string;
  @Column({ name: 'latency_sum_ms', type: 'double precision', nullable: true }) latencySumMs!: number | null;
  @Column({ name: 'latency_max_ms', type: 'double precision', nullable: true }) latencyMaxMs!: number | null;
}

@Entity('saga_stats_latency')
@Check('saga_stats_latency_grain_known', `grain IN ('minute', 'hour')`)
@Check('saga_stats_latency_bin_range', 'bin >= 0')
export class SagaStatsLatency {
  @PrimaryColumn({ type: 'varchar', length: 6 }) grain!: string;
  @PrimaryColumn({ type: 'timestamp' }) bucket!: Date;
  @PrimaryColumn({ type: 'smallint' }) bin!: number;
  @Column({ type: 'bigint' }) sagas!: string;
}

@Entity('saga_stats_dirty')
export class SagaStatsDirty {
  @PrimaryColumn({ type: 'timestamp' }) minute!: Date;
  @Column({ name: 'marked_at', type: 'timestamptz', default: () => 'now()' }) markedAt!: Date;
}

@Entity('saga_stats_state')
@Check('saga_stats_state_one_row', 'id')
export class SagaStatsState {
  @PrimaryColumn({ type: 'boolean', default: true }) id!: boolean;
  @Column({ name: 'rolled_until', type: 'timestamp', nullable: true }) rolledUntil!: Date | null;
  @Column({ name: 'source_filenode', type: 'bigint', nullable: true }) sourceFilenode!: string | null;
  @Column({ name: 'refreshed_at', type: 'timestamptz', nullable: true }) refreshedAt!: Date | null;
}

/** What `saga prune` deleted, as the rollup counted it (migrations/1764000000640-stats-pruned.ts). */
@Entity('saga_stats_pruned')
export class SagaStatsPruned {
  @PrimaryColumn({ type: 'timestamp' }) bucket!: Date;
  @PrimaryColumn({ type: 'varchar', length: 20 }) status!: string;
  @PrimaryColumn({ type: 'varchar', length: 20 }) mode!: string;
  @PrimaryColumn({ name: 'error_code', type: 'varchar', length: 50, default: '' }) errorCode!: string;
  @PrimaryColumn({ name: 'failed_step', type: 'varchar', length: 50, default: '' }) failedStep!: string;
  @Column({ type: 'bigint' }) sagas!: string;
  @Column({ name: 'latency_sum_ms', type: 'double precision', nullable: true }) latencySumMs!: number | null;
  @Column({ name: 'latency_max_ms', type: 'double precision', nullable: true }) latencyMaxMs!: number | null;
}

@Entity('saga_stats_pruned_latency')
@Check('saga_stats_pruned_latency_bin_range', 'bin >= 0')
export class SagaStatsPrunedLatency {
  @PrimaryColumn({ type: 'timestamp' }) bucket!: Date;
  @PrimaryColumn({ type: 'smallint' }) bin!: number;
  @Column({ type: 'bigint' }) sagas!: string;
}
