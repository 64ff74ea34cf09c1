import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity('items')
export class Item {
  @PrimaryColumn({ name: 'item_id', type: 'varchar', length: 50 }) itemId!: string;
  @Column({ type: 'varchar', length: 100 }) name!: string;
  @Column({ type: 'decimal', precision: 10, scale: 2 }) price!: string;
  @Column({ type: 'integer', default: 0 }) stock!: number;
  @Column({ name: 'is_available', type: 'boolean', default: true }) isAvailable!: boolean;
  @Column({ name: 'created_at', type: 'timestamp', nullable: true }) createdAt!: Date | null;
  @Column({ name: 'updated_at', type: 'timestamp', nullable: true }) updatedAt!: Date | null;
}
