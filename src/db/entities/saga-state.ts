import { Check, Column, Entity, Index, OneToMany, PrimaryColumn, type Relation } from 'typeorm';
import { SagaStepResult } from './saga-step-result';
import { UTC_DEFAULT } from './defaults';
import { list } from './vocabulary';
import { ERROR_CODES, MODES, STATUSES } from './vocabulary';

@Entity('saga_states')
@Check('saga_states_status_known', `status IN (${list(STATUSES)})`)
@Check('saga_states_quantity_positive', 'quantity > 0')
@Check('saga_states_price_non_negative', 'price >= 0')
@Check('saga_states_mode_known', `mode IN (${list(MODES)})`)
@Check('saga_states_error_code_known', `error_code IS NULL OR error_code IN (${list(ERROR_CODES)})`)
@Index('idx_saga_states_status', ['status'])
@Index('idx_saga_states_user_id', ['userId'])
@Index('idx_saga_states_created_at', ['createdAt'])
@Index('idx_saga_states_status_created_at', ['status', 'createdAt'])
export class SagaState {
  @PrimaryColumn({ name: 'transaction_id', type: 'varchar', length: 100 }) transactionId!: string;
  @Column({ type: 'varchar', length: 20 }) status!: string;
  @Column({ name: 'user_id', type: 'varchar', length: 50 }) userId!: string;
  @Column({ name: 'item_id', type: 'varchar', length: 50 }) itemId!: string;
  @Column({ type: 'integer' }) quantity!: number;
  @Column({ type: 'decimal', precision: 10, scale: 2 }) price!: string;
  @Column({ name: 'created_at', type: 'timestamp', nullable: true, default: UTC_DEFAULT }) createdAt!: Date | null;
  @Column({ name: 'updated_at', type: 'timestamp', nullable: true, default: UTC_DEFAULT }) updatedAt!: Date | null;
  @Column({ name: 'completed_at', type: 'timestamp', nullable: true }) completedAt!: Date | null;
  @Column({ name: 'error_message', type: 'text', nullable: true }) errorMessage!: string | null;
  /** Defaults to orchestration, so a program that inserts sagas without a mode (the design's service) works. */
  @Column({ type: 'varchar', length: 20, default: 'orchestration' }) mode!: string;
  @Column({ name: 'error_code', type: 'varchar', length: 50, nullable: true }) errorCode!: string | null;
  @Column({ name: 'lease_owner', type: 'varchar', length: 200, nullable: true }) leaseOwner!: string | null;
  @Column({ name: 'lease_expires_at', type: 'timestamptz', nullable: true }) leaseExpiresAt!: Date | null;
  @OneToMany(() => SagaStepResult, (step) => step.saga) steps!: Relation<SagaStepResult[]>;
}
