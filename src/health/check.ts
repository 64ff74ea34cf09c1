import { Db } from '../db/pool';
import { Invariant, INVARIANTS } from './invariants';
import { deadLocalOwners } from '../saga/stuck';

export interface CheckResult {
  name: string;
  description: string;
  ok: boolean;
  /** Every offending row, counted in full. */
  count: number;
  /** The first offending rows, by id. */
  sample: ({ id: string } & Record<string, unknown>)[];
}

export interface CheckReport {
  ok: boolean;
  checks: CheckResult[];
}

export interface CheckOptions {
  /** The stuck rule's --older-than (src/saga/stuck.ts). */
  olderThanMs: number;
  sampleSize?: number;
}

/** The offending rows of one invariant, the first `$1` by id, each carrying the full count. */
export function sampledSql(inv: Invariant): string {
  return `WITH offending AS (${inv.sql})
SELECT *, count(*) OVER ()::int AS "offendingCount" FROM offending ORDER BY id LIMIT $1`;
}

/**
 * Runs every invariant in one read-only REPEATABLE READ transaction: all of them see the same
 * snapshot (a saga settling between two checks cannot fail one and pass the other), and the
 * check can never write, whatever its SQL.
 */
export async function runChecks(db: Db, opts: CheckOptions, invariants: Invariant[] = INVARIANTS): Promise<CheckReport> {
  const limit = opts.sampleSize ?? 10;
  const params = { olderThanMs: opts.olderThanMs, deadOwners: await deadLocalOwners(db) };
  const checks = await db.withTransaction(async (client) => {
    await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const results: CheckResult[] = [];
    for (const inv of invariants) {
      const { rows } = await client.query(sampledSql(inv), [limit, ...inv.params(params)]);
      const count = rows[0]?.offendingCount ?? 0;
      const sample = rows.map(({ offendingCount: _c, ...row }) => row as CheckResult['sample'][number]);
      results.push({ name: inv.name, description: inv.description, ok: count === 0, count, sample });
    }
    return results;
  });
  return { ok: checks.every((c) => c.ok), checks };
}
