import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique, type Relation } from 'typeorm';
import { SagaState } from './saga-state';
import { UTC_DEFAULT } from './defaults';
import { ERROR_CODES, list, STEP_KINDS, STEP_NAMES, STEP_STATUSES } from './vocabulary';

/** One row per step and per compensation; the unique key makes a repeated one a refused no-op. */
@Entity('saga_step_results')
@Check('saga_step_results_step_known', `step IN (${list(STEP_NAMES)})`)
@Check('saga_step_results_status_known', `status IN (${list(STEP_STATUSES)})`)
@Check('saga_step_results_kind_known', `kind IN (${list(STEP_KINDS)})`)
@Check('saga_step_results_error_code_known', `error_code IS NULL OR error_code IN (${list(ERROR_CODES)})`)
@Unique('saga_step_results_once', ['transactionId', 'step', 'kind'])
@Index('idx_saga_step_results_transaction_id', ['transactionId'])
export class SagaStepResult {
  @PrimaryGeneratedColumn({ type: 'integer' }) id!: number;
  @Column({ name: 'transaction_id', type: 'varchar', length: 100 }) transactionId!: string;
  @Column({ type: 'varchar', length: 50 }) step!: string;
  @Column({ type: 'varchar', length: 20 }) status!: string;
  @Column({ type: 'jsonb', nullable: true }) data!: Record<string, unknown> | null;
  @Column({ name: 'error_code', type: 'varchar', length: 50, nullable: true }) errorCode!: string | null;
  @Column({ name: 'error_message', type: 'text', nullable: true }) errorMessage!: string | null;
  @Column({ name: 'executed_at', type: 'timestamp', nullable: true, default: UTC_DEFAULT }) executedAt!: Date | null;
  @Column({ type: 'varchar', length: 20, default: 'forward' }) kind!: string;
  @Column({ name: 'duration_ms', type: 'numeric', precision: 10, scale: 3, nullable: true }) durationMs!: string | null;
  @ManyToOne(() => SagaState, (saga) => saga.steps)
  @JoinColumn({ name: 'transaction_id', foreignKeyConstraintName: 'saga_step_results_transaction_id_fkey' })
  saga!: Relation<SagaState>;
}
