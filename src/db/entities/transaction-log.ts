import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { UTC_DEFAULT } from './defaults';

@Entity('transaction_logs')
@Check('transaction_logs_quantity_positive', 'quantity > 0')
@Check('transaction_logs_price_non_negative', 'price >= 0')
@Check('transaction_logs_status_known', `status IN ('logged', 'reversed')`)
@Index('idx_transaction_logs_user_id', ['userId'])
@Index('transaction_logs_transaction_id', ['transactionId'])
export class TransactionLog {
  @PrimaryColumn({ name: 'log_id', type: 'varchar', length: 100 }) logId!: string;
  @Column({ name: 'transaction_id', type: 'varchar', length: 100 }) transactionId!: string;
  @Column({ name: 'user_id', type: 'varchar', length: 50 }) userId!: string;
  @Column({ name: 'item_id', type: 'varchar', length: 50 }) itemId!: string;
  @Column({ type: 'integer' }) quantity!: number;
  @Column({ type: 'decimal', precision: 10, scale: 2 }) price!: string;
  @Column({ type: 'varchar', length: 20 }) status!: string;
  @Column({ name: 'log_data', type: 'jsonb', nullable: true }) logData!: Record<string, unknown> | null;
  @Column({ name: 'created_at', type: 'timestamp', nullable: true, default: UTC_DEFAULT }) createdAt!: Date | null;
}
