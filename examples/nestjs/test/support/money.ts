import type { Pool } from 'pg';

/** Every balance in cents and every stock, read straight from the tables. */
export interface Holdings {
  balances: Map<string, number>;
  stock: Map<string, number>;
}

export async function readHoldings(pg: Pool): Promise<Holdings> {
  const users = await pg.query<{ user_id: string; cents: string }>('SELECT user_id, (balance * 100)::bigint AS cents FROM users');
  const items = await pg.query<{ item_id: string; stock: number }>('SELECT item_id, stock FROM items');
  return {
    balances: new Map(users.rows.map((r) => [r.user_id, Number(r.cents)])),
    stock: new Map(items.rows.map((r) => [r.item_id, r.stock])),
  };
}

/**
 * Money and stock are exact when every balance is its opening balance less the totals of its
 * completed purchases, and every stock its opening stock less their quantities: a failed or
 * compensated saga, however it ended (refused, undone by the engine, recovered after a kill,
 * refunded by an operator), leaves nothing behind. Returns the differences; none is exact.
 */
export async function moneyDifferences(pg: Pool, opening: Holdings): Promise<string[]> {
  const now = await readHoldings(pg);
  const spent = await pg.query<{ user_id: string; cents: string }>(
    `SELECT user_id, (sum(price * quantity) * 100)::bigint AS cents FROM saga_states WHERE status = 'completed' GROUP BY user_id`);
  const sold = await pg.query<{ item_id: string; qty: string }>(
    `SELECT item_id, sum(quantity) AS qty FROM saga_states WHERE status = 'completed' GROUP BY item_id`);
  const spentBy = new Map(spent.rows.map((r) => [r.user_id, Number(r.cents)]));
  const soldOf = new Map(sold.rows.map((r) => [r.item_id, Number(r.qty)]));
  const diffs: string[] = [];
  for (const [user, cents] of now.balances) {
    const expected = opening.balances.get(user)! - (spentBy.get(user) ?? 0);
    if (cents !== expected) diffs.push(`${user}: balance ${cents / 100}, expected ${expected / 100}`);
  }
  for (const [item, stock] of now.stock) {
    const expected = opening.stock.get(item)! - (soldOf.get(item) ?? 0);
    if (stock !== expected) diffs.push(`${item}: stock ${stock}, expected ${expected}`);
  }
  return diffs;
}

/** "123.45" → 12345, without a float ever holding the amount. */
export function cents(amount: string): number {
  const [whole, frac = ''] = amount.split('.');
  return Number(whole) * 100 + Number(frac.padEnd(2, '0'));
}
