import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An account's own ledger entries (openings, seeds, adjustments, what a prune folded: every
 * source but 'saga'), which `saga export` writes with each user and item. Through ledger_account
 * each lookup read all of the account's saga movements to find its few own entries: an export
 * of 100,000 sagas spent a quarter of a second there before its first saga line, growing with
 * the ledger. A partial index holds the own entries only, so a saga's movement adds nothing to
 * it. Built CONCURRENTLY and re-runnable after a crash, as the archive indexes are.
 */
const NAME = 'ledger_account_own';

export class LedgerOwnEntries1764000000660 implements MigrationInterface {
  transaction = false as const;

  async up(q: QueryRunner): Promise<void> {
    const invalid = await q.query(
      `SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace AND NOT i.indisvalid`,
      [NAME],
    );
    if (invalid.length > 0) await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ${NAME}`);
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ${NAME} ON ledger (account, account_id, id) WHERE source <> 'saga'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ${NAME}`);
  }
}
