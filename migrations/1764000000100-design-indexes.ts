import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The seven indexes of the design (section 3.1), name and columns as written there. */
const INDEXES: [name: string, definition: string][] = [
  ['idx_saga_states_status', 'saga_states (status)'],
  ['idx_saga_states_user_id', 'saga_states (user_id)'],
  ['idx_saga_states_created_at', 'saga_states (created_at)'],
  ['idx_saga_step_results_transaction_id', 'saga_step_results (transaction_id)'],
  ['idx_transaction_logs_user_id', 'transaction_logs (user_id)'],
  ['idx_notifications_user_id_status', 'notifications (user_id, status)'],
  ['idx_saga_states_status_created_at', 'saga_states (status, created_at)'],
];

/**
 * Built CONCURRENTLY so a live system keeps writing, which cannot run inside a transaction.
 * Written to be re-run after a crash: a build that failed leaves an INVALID index behind, which
 * `IF NOT EXISTS` would silently keep, so an invalid one is dropped and built again.
 */
export class DesignIndexes1764000000100 implements MigrationInterface {
  transaction = false as const;

  async up(q: QueryRunner): Promise<void> {
    for (const [name, definition] of INDEXES) {
      const invalid = await q.query(
        `SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
          WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace AND NOT i.indisvalid`,
        [name],
      );
      if (invalid.length > 0) await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
      await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ${name} ON ${definition}`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const [name] of [...INDEXES].reverse()) {
      await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
    }
  }
}
