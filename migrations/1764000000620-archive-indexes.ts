import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What `saga export` and `saga prune` look up by saga: the design indexes transaction_logs and
 * notifications only by user, and operator_audit not at all, so reading (export) or deleting
 * (prune) one saga's rows scanned the whole table each time. One index each on transaction_id.
 * Built CONCURRENTLY so a live system keeps writing; re-runnable after a crash like the design's
 * indexes (an INVALID index left by a failed build is dropped and built again). Named like
 * saga_events_transaction_id: the idx_ prefix stays the design's seven.
 */
const INDEXES: [name: string, definition: string][] = [
  ['transaction_logs_transaction_id', 'transaction_logs (transaction_id)'],
  ['notifications_transaction_id', 'notifications (transaction_id)'],
  ['operator_audit_transaction_id', 'operator_audit (transaction_id)'],
];

export class ArchiveIndexes1764000000620 implements MigrationInterface {
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
    for (const [name] of [...INDEXES].reverse()) await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
  }
}
