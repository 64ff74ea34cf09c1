import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** One row per operator action (manual compensation, recovery): who, where, why, and what came of it. */
@Entity('operator_audit')
export class OperatorAudit {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' }) id!: string;
  @Column({ type: 'timestamptz' }) at!: Date;
  @Column({ name: 'os_user', type: 'varchar', length: 100 }) osUser!: string;
  @Column({ type: 'varchar', length: 255 }) host!: string;
  @Column({ type: 'varchar', length: 50 }) action!: string;
  @Column({ name: 'transaction_id', type: 'varchar', length: 100, nullable: true }) transactionId!: string | null;
  @Column({ type: 'text' }) reason!: string;
  @Column({ type: 'varchar', length: 50 }) outcome!: string;
  @Column({ type: 'jsonb', nullable: true }) details!: Record<string, unknown> | null;
}
