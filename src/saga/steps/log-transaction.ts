import { UTC_NOW } from '../../db/sql';
import { PER_SAGA, StepDefinition } from './phase';

/**
 * Write the transaction_logs row; undo: mark it reversed. The log id is derived from the saga's
 * id, so a second write collides instead of duplicating.
 */
export const LOG_TRANSACTION: StepDefinition = {
  name: 'log_transaction',
  forward: {
    decide: `
decided AS (
  SELECT s.*, CASE WHEN s.inject THEN 'INJECTED_FAILURE'
                   WHEN EXISTS (SELECT 1 FROM transaction_logs l WHERE l.log_id = 'log-' || s.transaction_id ${PER_SAGA}) THEN 'LOG_FAILED' END AS code
    FROM s)`,
    data: `jsonb_build_object('logId', CASE WHEN code IS NULL THEN 'log-' || transaction_id END)`,
    effect: `INSERT INTO transaction_logs (log_id, transaction_id, user_id, item_id, quantity, price, status, log_data, created_at)
  SELECT 'log-' || transaction_id, transaction_id, user_id, item_id, quantity, price, 'logged',
         jsonb_build_object('total', total::text, 'mode', mode), ${UTC_NOW}
    FROM acted WHERE code IS NULL`,
  },
  compensation: {
    decide: `
lg AS (SELECT log_id FROM transaction_logs WHERE log_id IN (SELECT 'log-' || transaction_id FROM s) ORDER BY log_id FOR NO KEY UPDATE),
decided AS (
  SELECT s.*, CASE WHEN s.inject OR NOT EXISTS (SELECT 1 FROM lg WHERE lg.log_id = 'log-' || s.transaction_id)
                   THEN 'COMPENSATION_FAILED' END AS code
    FROM s)`,
    data: `jsonb_build_object('logId', 'log-' || transaction_id, 'status', 'reversed')`,
    effect: `UPDATE transaction_logs tl SET status = 'reversed',
         log_data = COALESCE(tl.log_data, '{}') || jsonb_build_object('reversedAt', now())
    FROM acted a WHERE a.code IS NULL AND tl.log_id = 'log-' || a.transaction_id`,
  },
};
