import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The schema as a contract for every writer, not only sagactl's engine (docs/schema-contract.md):
 * - saga_states.mode defaults to 'orchestration' (the CHECK stays), so a program that inserts sagas
 *   the design's way, without a mode, works;
 * - every TIMESTAMP column defaults to the UTC time, whatever the writing session's time zone
 *   (CURRENT_TIMESTAMP is the session's local time: a server set to Asia/Tokyo stamped sagas nine
 *   hours ahead);
 * - the vocabulary columns that had no CHECK get one, named for what is wrong, so a value no
 *   program knows is refused at the door: error codes, outbox event types, the audit's actions and
 *   outcomes. Added NOT VALID here (new rows are checked at once, the table is not read), and
 *   validated by the next migration, in a transaction of its own that blocks no reader or writer.
 * - saga_stats_state.source_filenode becomes BIGINT (it was OID, a type TypeORM cannot map, so the
 *   library's entities could not cover that table; the values are the same numbers).
 * The lists are written out here, not imported: a migration must mean forever what it meant when
 * it ran. src/saga/types.ts holds the same vocabularies, and a test proves the two agree.
 */
const ERROR_CODES = [
  'USER_NOT_FOUND', 'USER_NOT_ACTIVE', 'PURCHASE_LIMIT_EXCEEDED', 'INSUFFICIENT_BALANCE', 'ITEM_NOT_FOUND',
  'ITEM_NOT_AVAILABLE', 'INSUFFICIENT_STOCK', 'LOG_FAILED', 'NOTIFICATION_FAILED', 'COMPENSATION_FAILED',
  'INJECTED_FAILURE', 'RECOVERED_BY_COMPENSATION', 'OPERATOR_COMPENSATION',
];
const EVENT_TYPES = [
  'reserve_inventory.run', 'log_transaction.run', 'send_notification.run',
  'validate_user.compensate', 'reserve_inventory.compensate', 'log_transaction.compensate',
];
const AUDIT_ACTIONS = ['compensate', 'recover'];
const AUDIT_OUTCOMES = [
  'claimed', 'refused', 'busy', 'pending', 'in_progress', 'completed', 'failed', 'compensating', 'compensated', 'compensation_failed',
];
const UTC_COLUMNS: [table: string, column: string][] = [
  ['users', 'created_at'], ['users', 'updated_at'], ['items', 'created_at'], ['items', 'updated_at'],
  ['saga_states', 'created_at'], ['saga_states', 'updated_at'], ['saga_step_results', 'executed_at'],
  ['transaction_logs', 'created_at'], ['notifications', 'created_at'],
];

const list = (values: string[]) => values.map((v) => `'${v}'`).join(', ');
export const VOCABULARY_CHECKS: [table: string, name: string, condition: string][] = [
  ['saga_states', 'saga_states_error_code_known', `error_code IS NULL OR error_code IN (${list(ERROR_CODES)})`],
  ['saga_step_results', 'saga_step_results_error_code_known', `error_code IS NULL OR error_code IN (${list(ERROR_CODES)})`],
  ['saga_events', 'saga_events_event_type_known', `event_type IN (${list(EVENT_TYPES)})`],
  ['operator_audit', 'operator_audit_action_known', `action IN (${list(AUDIT_ACTIONS)})`],
  ['operator_audit', 'operator_audit_outcome_known', `outcome IN (${list(AUDIT_OUTCOMES)})`],
];

export class SchemaContract1764000000400 implements MigrationInterface {
  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE saga_states ALTER COLUMN mode SET DEFAULT 'orchestration'`);
    await q.query('ALTER TABLE saga_stats_state ALTER COLUMN source_filenode TYPE BIGINT');
    for (const [table, column] of UTC_COLUMNS) {
      await q.query(`ALTER TABLE ${table} ALTER COLUMN ${column} SET DEFAULT timezone('UTC', now())`);
    }
    for (const [table, name, condition] of VOCABULARY_CHECKS) {
      await q.query(`ALTER TABLE ${table} ADD CONSTRAINT ${name} CHECK (${condition}) NOT VALID`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const [table, name] of [...VOCABULARY_CHECKS].reverse()) await q.query(`ALTER TABLE ${table} DROP CONSTRAINT IF EXISTS ${name}`);
    for (const [table, column] of UTC_COLUMNS) await q.query(`ALTER TABLE ${table} ALTER COLUMN ${column} SET DEFAULT CURRENT_TIMESTAMP`);
    await q.query('ALTER TABLE saga_stats_state ALTER COLUMN source_filenode TYPE OID');
    await q.query('ALTER TABLE saga_states ALTER COLUMN mode DROP DEFAULT');
  }
}
