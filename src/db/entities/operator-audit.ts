import { Check, Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { AUDIT_ACTIONS_LIST, AUDIT_OUTCOMES_LIST, list } from './vocabulary';

/** One row per operator action (manual compensation, recovery): who, where, why, and what came of it. */
@Entity('operator_audit')
@Check('operator_audit_reason_given', 'length(btrim(reason)) > 0')
@Check('operator_audit_action_known', `action IN (${list(AUDIT_ACTIONS_LIST)})`)
@Check('operator_audit_outcome_known', `outcome IN (${list(AUDIT_OUTCOMES_LIST)})`)
@Index('operator_audit_transaction_id', ['transactionId'])
export class OperatorAudit {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' }) id!: string;
  @Column({ type: 'timestamptz', default: () => 'now()' }) at!: Date;
  @Column({ name: 'os_user', type: 'varchar', length: 100 }) osUser!: string;
  @Column({ type: 'varchar', length: 255 }) host!: string;
  @Column({ type: 'varchar', length: 50 }) action!: string;
  @Column({ name: 'transaction_id', type: 'varchar', length: 100, nullable: true }) transactionId!: string | null;
  @Column({ type: 'text' }) reason!: string;
  @Column({ type: 'varchar', length: 50 }) outcome!: string;
  @Column({ type: 'jsonb', nullable: true }) details!: Record<string, unknown> | null;
}
