import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { SagaState } from './saga-state';
import { EVENT_TYPES_LIST, list } from './vocabulary';

/** The choreography outbox: written in the step's own transaction, marked delivered by the step that consumes it. */
@Entity('saga_events')
@Check('saga_events_event_type_known', `event_type IN (${list(EVENT_TYPES_LIST)})`)
@Index('saga_events_undelivered', ['id'], { where: 'delivered_at IS NULL' })
@Index('saga_events_transaction_id', ['transactionId'])
export class SagaEvent {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' }) id!: string;
  @Column({ name: 'transaction_id', type: 'varchar', length: 100 }) transactionId!: string;
  @Column({ name: 'event_type', type: 'varchar', length: 50 }) eventType!: string;
  @Column({ type: 'jsonb', default: {} }) payload!: Record<string, unknown>;
  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' }) createdAt!: Date;
  @Column({ name: 'delivered_at', type: 'timestamptz', nullable: true }) deliveredAt!: Date | null;
  @ManyToOne(() => SagaState)
  @JoinColumn({ name: 'transaction_id', foreignKeyConstraintName: 'saga_events_transaction_id_fkey' })
  saga!: Relation<SagaState>;
}
