import { Db } from '../db/pool';

/**
 * The bulk guard: `db check`'s money and stock invariants (src/health/invariants.ts,
 * src/health/ledger-invariants.ts), re-checked after each batch for the users, items and sagas
 * the batch touched only, so the check costs the batch and not the database. A violation stops
 * the run at once (exit 6), named as db check names it.
 *
 * What the guard stops on is what appeared during the batch: it is read before the batch too
 * (newViolations), so a discrepancy older than the run (db check's business) does not stop every
 * run that touches that account, while one the batch made appear, or made worse, does. Unexplained
 * movements count from `sinceLedgerId` (the ledger's newest id when the run began).
 */
export interface GuardScope {
  users: string[];
  items: string[];
  sagas: string[];
  sinceLedgerId: string;
}

export interface GuardViolation {
  /** The db check invariant broken. */
  check: string;
  id: string;
  detail: string;
}

const GUARD_SQL = `
WITH accounts AS (
  SELECT 'user' AS account, user_id AS id, balance AS actual FROM users WHERE user_id = ANY($1::text[])
  UNION ALL SELECT 'item', item_id, stock FROM items WHERE item_id = ANY($2::text[])),
sums AS (
  SELECT a.account, a.id, a.actual, COALESCE((SELECT sum(l.delta) FROM ledger l
                                               WHERE l.account = a.account AND l.account_id = a.id), 0) AS total
    FROM accounts a)
SELECT CASE account WHEN 'user' THEN 'no_negative_balance' ELSE 'no_negative_stock' END AS check, account || ':' || id AS id,
       'is ' || actual::text AS detail
  FROM accounts WHERE actual < 0
UNION ALL
SELECT 'ledger_reconciles', account || ':' || id, 'differs from what its ledger adds up to by ' || (actual - total)::numeric(14,2)::text
  FROM sums WHERE actual <> total
UNION ALL
SELECT 'movements_explained', 'ledger #' || l.id, l.account || ' ' || l.account_id || ' moved by ' || l.delta::text
       || ' unrecorded (' || l.db_user || ', ' || l.application || ')'
  FROM ledger l
 WHERE l.source = 'unattributed' AND l.id > $4::bigint
   AND ((l.account = 'user' AND l.account_id = ANY($1::text[])) OR (l.account = 'item' AND l.account_id = ANY($2::text[])))
UNION ALL
SELECT 'no_saga_refunded_more_than_charged', l.transaction_id || ':' || l.account,
       'got back ' || sum(l.delta) FILTER (WHERE l.kind = 'compensation')::text || ' of ' || sum(l.delta) FILTER (WHERE l.kind = 'forward')::text
  FROM ledger l WHERE l.source = 'saga' AND l.transaction_id = ANY($3::text[])
 GROUP BY l.transaction_id, l.account HAVING sum(l.delta) > 0`;

export async function checkTouched(db: Pick<Db, 'query'>, scope: GuardScope): Promise<GuardViolation[]> {
  if (scope.users.length + scope.items.length + scope.sagas.length === 0) return [];
  return db.query<GuardViolation>(GUARD_SQL, [scope.users, scope.items, scope.sagas, scope.sinceLedgerId]);
}

/** The violations in `after` that `before` did not have (the same invariant, row and detail). */
export function newViolations(before: GuardViolation[], after: GuardViolation[]): GuardViolation[] {
  const key = (v: GuardViolation) => `${v.check}\u0000${v.id}\u0000${v.detail}`;
  const known = new Set(before.map(key));
  return after.filter((v) => !known.has(key(v)));
}

/** The ledger's newest id now (the guard's starting line). */
export async function ledgerWatermark(db: Pick<Db, 'query'>): Promise<string> {
  return (await db.query<{ id: string }>('SELECT COALESCE(max(id), 0)::text AS id FROM ledger'))[0].id;
}
