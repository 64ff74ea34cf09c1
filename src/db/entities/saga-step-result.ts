import { Column, Entity, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { SagaState } from './saga-state';

@Entity('saga_step_results')
export class SagaStepResult {
  @PrimaryGeneratedColumn({ type: 'integer' }) id!: number;
  @Column({ name: 'transaction_id', type: 'varchar', length: 100 }) transactionId!: string;
  @Column({ type: 'varchar', length: 50 }) step!: string;
  @Column({ type: 'varchar', length: 20 }) status!: string;
  @Column({ type: 'jsonb', nullable: true }) data!: Record<string, unknown> | null;
  @Column({ name: 'error_code', type: 'varchar', length: 50, nullable: true }) errorCode!: string | null;
  @Column({ name: 'error_message', type: 'text', nullable: true }) errorMessage!: string | null;
  @Column({ name: 'executed_at', type: 'timestamp', nullable: true }) executedAt!: Date | null;
  @Column({ type: 'varchar', length: 20, default: 'forward' }) kind!: string;
  @Column({ name: 'duration_ms', type: 'numeric', precision: 10, scale: 3, nullable: true }) durationMs!: string | null;
  @ManyToOne(() => SagaState, (saga) => saga.steps)
  @JoinColumn({ name: 'transaction_id' })
  saga!: Relation<SagaState>;
}
