import { UTC_NOW } from '../../db/sql';
import { claim, StepDefinition } from './phase';

/**
 * Debit the buyer; undo: credit it back. The forward phase is decided inside the start statement
 * (it needs the price, read from items with the saga's insert): see src/saga/statements.ts.
 * Every user of the batch is locked once; a user buying several times in one batch is debited
 * once by the sum, each purchase admitted in batch order while the running total fits the balance.
 */
export const VALIDATE_USER: StepDefinition = {
  name: 'validate_user',
  compensation: {
    decide: `
u AS (SELECT user_id, balance FROM users WHERE user_id IN (SELECT user_id FROM s) ORDER BY user_id FOR NO KEY UPDATE),
decided AS (
  SELECT s.*, u.balance + sum(CASE WHEN u.user_id IS NOT NULL AND NOT s.inject THEN s.total ELSE 0 END)
           OVER (PARTITION BY s.user_id ORDER BY s.ord ROWS UNBOUNDED PRECEDING) AS balance_after,
         CASE WHEN s.inject OR u.user_id IS NULL THEN 'COMPENSATION_FAILED' END AS code
    FROM s LEFT JOIN u ON u.user_id = s.user_id)`,
    data: `jsonb_build_object('refunded', total::text, 'balanceAfter', balance_after::text)`,
    effect: `UPDATE users u SET balance = u.balance + a.total, updated_at = ${UTC_NOW}
    FROM (SELECT user_id, sum(total) AS total FROM acted WHERE code IS NULL GROUP BY user_id) a
   WHERE u.user_id = a.user_id`,
    claim: claim('user', 'user_id', 'validate_user', 'compensation', 'total'),
  },
};
