/**
 * The design's own entities (original-design.md, section 1.3), as it writes them: loose column
 * types, money typed as number (TypeORM hands back strings), no mode, no lease. Only the
 * decorators of NestJS are left out; the classes are the design's. SagaStepResult is not shown in
 * the design: it is written the same way, after its table (section 1.1).
 */
import { Column, CreateDateColumn, Entity, JoinColumn, ManyToOne, OneToMany, PrimaryColumn, PrimaryGeneratedColumn, UpdateDateColumn, type Relation } from 'typeorm';

@Entity('users')
export class User {
  @PrimaryColumn({ name: 'user_id' })
  userId!: string;

  @Column({ length: 100 })
  name!: string;

  @Column('decimal', { precision: 10, scale: 2, default: 0 })
  balance!: number;

  @Column({ length: 20, default: 'active' })
  status!: string;

  @Column('decimal', { precision: 10, scale: 2, name: 'purchase_limit', default: 0 })
  purchaseLimit!: number;

  @CreateDateColumn({ name: 'created_at' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at' })
  updatedAt!: Date;
}

@Entity('saga_states')
export class SagaState {
  @PrimaryColumn({ name: 'transaction_id' })
  transactionId!: string;

  @Column({ length: 20 })
  status!: string;

  @Column({ name: 'user_id' })
  userId!: string;

  @Column({ name: 'item_id' })
  itemId!: string;

  @Column()
  quantity!: number;

  @Column('decimal', { precision: 10, scale: 2 })
  price!: number;

  @CreateDateColumn({ name: 'created_at' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at' })
  updatedAt!: Date;

  @Column({ name: 'completed_at', nullable: true })
  completedAt?: Date;

  @Column({ name: 'error_message', nullable: true })
  errorMessage?: string;

  @OneToMany(() => SagaStepResult, (stepResult) => stepResult.sagaState)
  steps!: Relation<SagaStepResult[]>;
}

@Entity('saga_step_results')
export class SagaStepResult {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ name: 'transaction_id' })
  transactionId!: string;

  @Column({ length: 50 })
  step!: string;

  @Column({ length: 20 })
  status!: string;

  @Column('jsonb', { nullable: true })
  data?: Record<string, unknown>;

  @Column({ name: 'error_code', nullable: true })
  errorCode?: string;

  @Column({ name: 'error_message', nullable: true })
  errorMessage?: string;

  @CreateDateColumn({ name: 'executed_at' })
  executedAt!: Date;

  @ManyToOne(() => SagaState, (saga) => saga.steps)
  @JoinColumn({ name: 'transaction_id' })
  sagaState!: Relation<SagaState>;
}
