import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** The choreography outbox: written in the step's own transaction, marked delivered by its handler. */
@Entity('saga_events')
export class SagaEvent {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' }) id!: string;
  @Column({ name: 'transaction_id', type: 'varchar', length: 100 }) transactionId!: string;
  @Column({ name: 'event_type', type: 'varchar', length: 50 }) eventType!: string;
  @Column({ type: 'jsonb', default: {} }) payload!: Record<string, unknown>;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'delivered_at', type: 'timestamptz', nullable: true }) deliveredAt!: Date | null;
}
