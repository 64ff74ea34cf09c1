import { Check, Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { LEDGER_SOURCES_LIST, list, STEP_NAMES } from './vocabulary';

/**
 * One movement of a user's balance or an item's stock, written by the database itself (triggers on
 * users and items; migrations/1764000000500-ledger.ts). Read it; never write it.
 */
@Entity('ledger')
@Check('ledger_account_known', `account IN ('user', 'item')`)
@Check('ledger_source_known', `source IN (${list(LEDGER_SOURCES_LIST)})`)
@Check('ledger_step_known', `step IN (${list(STEP_NAMES)})`)
@Check('ledger_kind_known', `kind IN ('forward', 'compensation')`)
@Check('ledger_saga_movement_named', `(source = 'saga') = (transaction_id IS NOT NULL AND step IS NOT NULL AND kind IS NOT NULL)`)
@Index('ledger_account', ['account', 'accountId', 'id'])
@Index('ledger_transaction_id', ['transactionId'], { where: 'transaction_id IS NOT NULL' })
@Index('ledger_unexplained', ['id'], { where: `source = 'unattributed'` })
@Index('ledger_account_own', ['account', 'accountId', 'id'], { where: `source <> 'saga'` })
export class LedgerEntry {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' }) id!: string;
  @Column({ type: 'timestamptz' }) at!: Date;
  /** The database transaction that made the movement. */
  @Column({ type: 'bigint' }) xact!: string;
  @Column({ name: 'db_user', type: 'varchar', length: 100 }) dbUser!: string;
  @Column({ type: 'varchar', length: 100 }) application!: string;
  @Column({ type: 'varchar', length: 4 }) account!: string;
  @Column({ name: 'account_id', type: 'varchar', length: 50 }) accountId!: string;
  @Column({ type: 'numeric', precision: 14, scale: 2 }) delta!: string;
  @Column({ type: 'numeric', precision: 14, scale: 2, nullable: true }) after!: string | null;
  @Column({ type: 'varchar', length: 20 }) source!: string;
  @Column({ name: 'transaction_id', type: 'varchar', length: 100, nullable: true }) transactionId!: string | null;
  @Column({ type: 'varchar', length: 50, nullable: true }) step!: string | null;
  @Column({ type: 'varchar', length: 20, nullable: true }) kind!: string | null;
  @Column({ name: 'audit_id', type: 'bigint', nullable: true }) auditId!: string | null;
}
