import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Money columns are strings: pg returns NUMERIC as text, and a float would lose cents. */
@Entity('users')
export class User {
  @PrimaryColumn({ name: 'user_id', type: 'varchar', length: 50 }) userId!: string;
  @Column({ type: 'varchar', length: 100 }) name!: string;
  @Column({ type: 'decimal', precision: 10, scale: 2, default: 0 }) balance!: string;
  @Column({ type: 'varchar', length: 20, default: 'active' }) status!: string;
  @Column({ name: 'purchase_limit', type: 'decimal', precision: 10, scale: 2, default: 0 }) purchaseLimit!: string;
  @Column({ name: 'created_at', type: 'timestamp', nullable: true }) createdAt!: Date | null;
  @Column({ name: 'updated_at', type: 'timestamp', nullable: true }) updatedAt!: Date | null;
}
