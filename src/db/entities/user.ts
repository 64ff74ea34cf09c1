import { Check, Column, Entity, PrimaryColumn } from 'typeorm';
import { UTC_DEFAULT } from './defaults';

/** Money columns are strings: pg returns NUMERIC as text, and a float would lose cents. */
@Entity('users')
@Check('users_balance_non_negative', 'balance >= 0')
@Check('users_status_known', `status IN ('active', 'suspended', 'inactive')`)
@Check('users_purchase_limit_non_negative', 'purchase_limit >= 0')
export class User {
  @PrimaryColumn({ name: 'user_id', type: 'varchar', length: 50 }) userId!: string;
  @Column({ type: 'varchar', length: 100 }) name!: string;
  @Column({ type: 'decimal', precision: 10, scale: 2, default: () => '0.00' }) balance!: string;
  @Column({ type: 'varchar', length: 20, default: 'active' }) status!: string;
  @Column({ name: 'purchase_limit', type: 'decimal', precision: 10, scale: 2, default: () => '0.00' }) purchaseLimit!: string;
  @Column({ name: 'created_at', type: 'timestamp', nullable: true, default: UTC_DEFAULT }) createdAt!: Date | null;
  @Column({ name: 'updated_at', type: 'timestamp', nullable: true, default: UTC_DEFAULT }) updatedAt!: Date | null;
}
