import { Column, Entity, OneToMany, PrimaryColumn, type Relation } from 'typeorm';
import { SagaStepResult } from './saga-step-result';

@Entity('saga_states')
export class SagaState {
  @PrimaryColumn({ name: 'transaction_id', type: 'varchar', length: 100 }) transactionId!: string;
  @Column({ type: 'varchar', length: 20 }) status!: string;
  @Column({ name: 'user_id', type: 'varchar', length: 50 }) userId!: string;
  @Column({ name: 'item_id', type: 'varchar', length: 50 }) itemId!: string;
  @Column({ type: 'integer' }) quantity!: number;
  @Column({ type: 'decimal', precision: 10, scale: 2 }) price!: string;
  @Column({ name: 'created_at', type: 'timestamp', nullable: true }) createdAt!: Date | null;
  @Column({ name: 'updated_at', type: 'timestamp', nullable: true }) updatedAt!: Date | null;
  @Column({ name: 'completed_at', type: 'timestamp', nullable: true }) completedAt!: Date | null;
  @Column({ name: 'error_message', type: 'text', nullable: true }) errorMessage!: string | null;
  @Column({ type: 'varchar', length: 20 }) mode!: string;
  @Column({ name: 'error_code', type: 'varchar', length: 50, nullable: true }) errorCode!: string | null;
  @Column({ name: 'lease_owner', type: 'varchar', length: 200, nullable: true }) leaseOwner!: string | null;
  @Column({ name: 'lease_expires_at', type: 'timestamptz', nullable: true }) leaseExpiresAt!: Date | null;
  @OneToMany(() => SagaStepResult, (step) => step.saga) steps!: Relation<SagaStepResult[]>;
}
