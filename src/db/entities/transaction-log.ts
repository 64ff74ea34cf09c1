import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity('transaction_logs')
export class TransactionLog {
  @PrimaryColumn({ name: 'log_id', type: 'varchar', length: 100 }) logId!: string;
  @Column({ name: 'transaction_id', type: 'varchar', length: 100 }) transactionId!: string;
  @Column({ name: 'user_id', type: 'varchar', length: 50 }) userId!: string;
  @Column({ name: 'item_id', type: 'varchar', length: 50 }) itemId!: string;
  @Column({ type: 'integer' }) quantity!: number;
  @Column({ type: 'decimal', precision: 10, scale: 2 }) price!: string;
  @Column({ type: 'varchar', length: 20 }) status!: string;
  @Column({ name: 'log_data', type: 'jsonb', nullable: true }) logData!: Record<string, unknown> | null;
  @Column({ name: 'created_at', type: 'timestamp', nullable: true }) createdAt!: Date | null;
}
