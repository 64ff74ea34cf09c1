import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity('notifications')
export class Notification {
  @PrimaryColumn({ name: 'notification_id', type: 'varchar', length: 100 }) notificationId!: string;
  @Column({ name: 'transaction_id', type: 'varchar', length: 100 }) transactionId!: string;
  @Column({ name: 'user_id', type: 'varchar', length: 50 }) userId!: string;
  @Column({ type: 'varchar', length: 50 }) type!: string;
  @Column({ type: 'text' }) message!: string;
  @Column({ type: 'jsonb' }) channels!: string[];
  @Column({ type: 'varchar', length: 20, default: 'pending' }) status!: string;
  @Column({ name: 'sent_at', type: 'timestamp', nullable: true }) sentAt!: Date | null;
  @Column({ name: 'created_at', type: 'timestamp', nullable: true }) createdAt!: Date | null;
}
