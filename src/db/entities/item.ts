import { Check, Column, Entity, PrimaryColumn } from 'typeorm';
import { UTC_DEFAULT } from './defaults';

@Entity('items')
@Check('items_price_non_negative', 'price >= 0')
@Check('items_stock_non_negative', 'stock >= 0')
export class Item {
  @PrimaryColumn({ name: 'item_id', type: 'varchar', length: 50 }) itemId!: string;
  @Column({ type: 'varchar', length: 100 }) name!: string;
  @Column({ type: 'decimal', precision: 10, scale: 2 }) price!: string;
  @Column({ type: 'integer', default: 0 }) stock!: number;
  @Column({ name: 'is_available', type: 'boolean', default: true }) isAvailable!: boolean;
  @Column({ name: 'created_at', type: 'timestamp', nullable: true, default: UTC_DEFAULT }) createdAt!: Date | null;
  @Column({ name: 'updated_at', type: 'timestamp', nullable: true, default: UTC_DEFAULT }) updatedAt!: Date | null;
}
