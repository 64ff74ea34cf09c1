import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { UTC_DEFAULT } from './defaults';

@Entity('notifications')
@Check('notifications_status_known', `status IN ('pending', 'sent', 'failed')`)
@Index('idx_notifications_user_id_status', ['userId', 'status'])
@Index('notifications_transaction_id', ['transactionId'])
export class Notification {
  @PrimaryColumn({ name: 'notification_id', type: 'varchar', length: 100 }) notificationId!: string;
  @Column({ name: 'transaction_id', type: 'varchar', length: 100 }) transactionId!: string;
  @Column({ name: 'user_id', type: 'varchar', length: 50 }) userId!: string;
  @Column({ type: 'varchar', length: 50 }) type!: string;
  @Column({ type: 'text' }) message!: string;
  @Column({ type: 'jsonb' }) channels!: string[];
  @Column({ type: 'varchar', length: 20, default: 'pending' }) status!: string;
  /** How many times it was sent or tried (saga retry re-sends a failed one). */
  @Column({ type: 'integer', default: 1 }) attempts!: number;
  @Column({ name: 'sent_at', type: 'timestamp', nullable: true }) sentAt!: Date | null;
  @Column({ name: 'created_at', type: 'timestamp', nullable: true, default: UTC_DEFAULT }) createdAt!: Date | null;
}
