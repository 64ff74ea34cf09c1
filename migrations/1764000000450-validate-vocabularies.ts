import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Validates the vocabulary CHECKs the previous migration added NOT VALID. Apart from their adding:
 * VALIDATE CONSTRAINT reads the table under SHARE UPDATE EXCLUSIVE, which lets every reader and
 * writer go on, where validating in the adding transaction would hold its ACCESS EXCLUSIVE lock
 * for the whole scan.
 */
const CONSTRAINTS: [table: string, name: string][] = [
  ['saga_states', 'saga_states_error_code_known'],
  ['saga_step_results', 'saga_step_results_error_code_known'],
  ['saga_events', 'saga_events_event_type_known'],
  ['operator_audit', 'operator_audit_action_known'],
  ['operator_audit', 'operator_audit_outcome_known'],
];

export class ValidateVocabularies1764000000450 implements MigrationInterface {
  async up(q: QueryRunner): Promise<void> {
    for (const [table, name] of CONSTRAINTS) await q.query(`ALTER TABLE ${table} VALIDATE CONSTRAINT ${name}`);
  }

  async down(): Promise<void> {
    // A validated constraint cannot be made NOT VALID again; dropping it is the previous migration's down.
  }
}
