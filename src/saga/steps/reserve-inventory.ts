import { UTC_NOW } from '../../db/sql';
import { claim, StepDefinition } from './phase';

/** Every item of the batch is locked once and changed once, by the sum of what its sagas take or give back. */
const ITEMS = `it AS (SELECT item_id, stock, is_available FROM items WHERE item_id IN (SELECT item_id FROM s) ORDER BY item_id FOR NO KEY UPDATE)`;

/** Reserve stock; undo: restore it. Purchases of one item are admitted in batch order while the running sum fits the stock. */
export const RESERVE_INVENTORY: StepDefinition = {
  name: 'reserve_inventory',
  forward: {
    decide: `
${ITEMS},
ranked AS (
  SELECT s.*, it.item_id IS NOT NULL AS found, COALESCE(it.is_available, false) AS available, it.stock AS stock_before,
         sum(CASE WHEN NOT s.inject AND it.is_available THEN s.quantity ELSE 0 END)
           OVER (PARTITION BY s.item_id ORDER BY s.ord ROWS UNBOUNDED PRECEDING) AS running
    FROM s LEFT JOIN it ON it.item_id = s.item_id),
decided AS (
  SELECT r.*, CASE WHEN r.inject THEN 'INJECTED_FAILURE' WHEN NOT r.found THEN 'ITEM_NOT_FOUND'
                   WHEN NOT r.available THEN 'ITEM_NOT_AVAILABLE' WHEN r.running > r.stock_before THEN 'INSUFFICIENT_STOCK' END AS code
    FROM ranked r)`,
    data: `jsonb_build_object('quantity', quantity, 'stockAfter', CASE WHEN code IS NULL THEN stock_before - running END)`,
    effect: `UPDATE items i SET stock = i.stock - a.quantity, updated_at = ${UTC_NOW}
    FROM (SELECT item_id, sum(quantity) AS quantity FROM acted WHERE code IS NULL GROUP BY item_id) a
   WHERE i.item_id = a.item_id`,
    claim: claim('item', 'item_id', 'reserve_inventory', 'forward', '-quantity'),
  },
  compensation: {
    decide: `
${ITEMS},
decided AS (
  SELECT s.*, it.stock + sum(CASE WHEN it.item_id IS NOT NULL AND NOT s.inject THEN s.quantity ELSE 0 END)
           OVER (PARTITION BY s.item_id ORDER BY s.ord ROWS UNBOUNDED PRECEDING) AS stock_after,
         CASE WHEN s.inject OR it.item_id IS NULL THEN 'COMPENSATION_FAILED' END AS code
    FROM s LEFT JOIN it ON it.item_id = s.item_id)`,
    data: `jsonb_build_object('restocked', quantity, 'stockAfter', stock_after)`,
    effect: `UPDATE items i SET stock = i.stock + a.quantity, updated_at = ${UTC_NOW}
    FROM (SELECT item_id, sum(quantity) AS quantity FROM acted WHERE code IS NULL GROUP BY item_id) a
   WHERE i.item_id = a.item_id`,
    claim: claim('item', 'item_id', 'reserve_inventory', 'compensation', 'quantity'),
  },
};
