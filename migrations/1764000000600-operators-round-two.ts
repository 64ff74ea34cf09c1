import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the operator commands of round two record (docs/runbook.md):
 * - the audit learns their actions: retry (redrive), one row per bulk action besides one per saga,
 *   ending a blocking backend, importing and pruning; and their outcomes;
 * - a notification row counts its attempts, so a re-sent one says so.
 * The audit's lists are written out here, not imported (a migration means forever what it meant),
 * and are a superset of the old ones: every existing row still passes. The new CHECKs are added
 * NOT VALID and validated at once: operator_audit is small, and a row it holds cannot fail them.
 */
const list = (values: string[]) => values.map((v) => `'${v}'`).join(', ');
const AUDIT_ACTIONS = [
  'compensate', 'recover', 'retry', 'bulk_compensate', 'bulk_recover', 'bulk_retry', 'terminate_backend', 'import', 'prune',
];
const AUDIT_OUTCOMES = [
  'claimed', 'refused', 'busy', 'pending', 'in_progress', 'completed', 'failed', 'compensating', 'compensated', 'compensation_failed',
  'done', 'interrupted', 'guard_stopped', 'terminated', 'resent',
];
const OLD_ACTIONS = ['compensate', 'recover'];
const OLD_OUTCOMES = AUDIT_OUTCOMES.slice(0, 10);

async function replaceChecks(q: QueryRunner, actions: string[], outcomes: string[]): Promise<void> {
  for (const [name, column, values] of [['operator_audit_action_known', 'action', actions], ['operator_audit_outcome_known', 'outcome', outcomes]] as const) {
    await q.query(`ALTER TABLE operator_audit DROP CONSTRAINT IF EXISTS ${name}`);
    await q.query(`ALTER TABLE operator_audit ADD CONSTRAINT ${name} CHECK (${column} IN (${list(values)})) NOT VALID`);
    await q.query(`ALTER TABLE operator_audit VALIDATE CONSTRAINT ${name}`);
  }
}

export class OperatorsRoundTwo1764000000600 implements MigrationInterface {
  async up(q: QueryRunner): Promise<void> {
    await replaceChecks(q, AUDIT_ACTIONS, AUDIT_OUTCOMES);
    // A constant default: PostgreSQL stores it in the catalog, the table is not rewritten.
    await q.query('ALTER TABLE notifications ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE notifications DROP COLUMN IF EXISTS attempts');
    await q.query(`DELETE FROM operator_audit WHERE action NOT IN (${list(OLD_ACTIONS)}) OR outcome NOT IN (${list(OLD_OUTCOMES)})`);
    await replaceChecks(q, OLD_ACTIONS, OLD_OUTCOMES);
  }
}
