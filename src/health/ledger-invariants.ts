import type { Invariant } from './invariants';

/**
 * The money and stock rules of `db check`, over the ledger (migrations/1764000000500-ledger.ts):
 * every balance and stock is what its entries add up to, every movement is explained by exactly
 * one step or compensation of one saga (or by a declared source: an opening or closing entry,
 * seed, an audited adjustment), every step that moved money or stock has its movement, and no
 * saga got back more than it paid. Amounts are compared in SQL, as NUMERIC.
 */

/** A saga's step that moves an account, with the movement it must leave (alias s: the saga). */
const MOVING_STEPS = `(VALUES ('validate_user', 'user'), ('reserve_inventory', 'item')) AS ms(step, account)`;
const EXPECTED = `CASE ms.account WHEN 'user' THEN s.price * s.quantity ELSE s.quantity END
                  * CASE r.kind WHEN 'forward' THEN -1 ELSE 1 END`;
const ACCOUNT_OF = `CASE ms.account WHEN 'user' THEN s.user_id ELSE s.item_id END`;

export const LEDGER_INVARIANTS: Invariant[] = [
  {
    name: 'ledger_reconciles',
    description: 'each user balance and item stock equals the sum of its ledger entries (its opening entry plus its movements)',
    sql: `SELECT a.account || ':' || a.id AS id, a.actual::text AS actual, COALESCE(l.total, 0)::text AS ledger,
                 (a.actual - COALESCE(l.total, 0))::text AS difference
            FROM (SELECT 'user' AS account, user_id AS id, balance AS actual FROM users
                  UNION ALL SELECT 'item', item_id, stock FROM items) a
            FULL JOIN (SELECT account, account_id AS id, sum(delta) AS total FROM ledger GROUP BY account, account_id) l
              ON l.account = a.account AND l.id = a.id
           WHERE COALESCE(a.actual, 0) <> COALESCE(l.total, 0)`,
    params: () => [],
  },
  {
    name: 'movements_explained',
    description: 'every ledger movement is explained: a saga step or compensation, or a declared source (opening, closing, seed, adjustment)',
    sql: `SELECT l.id::text AS id, l.account, l.account_id AS "accountId", l.delta::text AS delta, l.at, l.xact::text AS xact,
                 l.db_user AS "dbUser", l.application
            FROM ledger l WHERE l.source = 'unattributed'`,
    params: () => [],
  },
  {
    name: 'steps_have_movements',
    description: 'every step and compensation that moves money or stock has exactly its movement in the ledger, on the user or item of its own saga',
    sql: `SELECT r.transaction_id || ':' || r.step || ':' || r.kind AS id, (${EXPECTED})::text AS expected,
                 COALESCE((SELECT string_agg(l.account || ' ' || l.account_id || ' ' || l.delta::text, ', ' ORDER BY l.id) FROM ledger l
                            WHERE l.transaction_id = r.transaction_id AND l.step = r.step AND l.kind = r.kind), 'nothing') AS found
            FROM saga_step_results r JOIN saga_states s ON s.transaction_id = r.transaction_id
            JOIN ${MOVING_STEPS} ON ms.step = r.step
           WHERE r.status = 'succeeded'
             AND NOT EXISTS (SELECT 1 FROM ledger l
                              WHERE l.transaction_id = r.transaction_id AND l.step = r.step AND l.kind = r.kind
                                AND l.account = ms.account AND l.account_id = ${ACCOUNT_OF} AND l.delta = ${EXPECTED}
                                AND (SELECT count(*) FROM ledger x WHERE x.transaction_id = r.transaction_id
                                       AND x.step = r.step AND x.kind = r.kind) = 1)`,
    params: () => [],
  },
  {
    name: 'movements_have_steps',
    description: 'every movement attributed to a saga has the succeeded step or compensation record it names',
    sql: `SELECT l.id::text AS id, l.transaction_id AS "transactionId", l.step, l.kind, l.account, l.account_id AS "accountId",
                 l.delta::text AS delta
            FROM ledger l
           WHERE l.source = 'saga'
             AND NOT EXISTS (SELECT 1 FROM saga_step_results r WHERE r.transaction_id = l.transaction_id
                               AND r.step = l.step AND r.kind = l.kind AND r.status = 'succeeded')`,
    params: () => [],
  },
  {
    name: 'no_saga_refunded_more_than_charged',
    description: 'no saga got back more than it paid, nor put back more stock than it took',
    sql: `SELECT l.transaction_id || ':' || l.account AS id, sum(l.delta) FILTER (WHERE l.kind = 'forward')::text AS taken,
                 sum(l.delta) FILTER (WHERE l.kind = 'compensation')::text AS returned
            FROM ledger l WHERE l.source = 'saga'
           GROUP BY l.transaction_id, l.account
          HAVING sum(l.delta) > 0`,
    params: () => [],
  },
];
