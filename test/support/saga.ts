import { Db } from '../../src/db/pool';
import { SagaRunner } from '../../src/saga/service';
import { DEFAULT_LEASE_MS, DEFAULT_LOCK_TIMEOUT_MS, leaseOwner } from '../../src/saga/engine';

export function runnerOn(db: Db): SagaRunner {
  return new SagaRunner({ db, owner: leaseOwner(), leaseMs: DEFAULT_LEASE_MS, lockTimeoutMs: DEFAULT_LOCK_TIMEOUT_MS, grouping: true });
}

export async function balanceOf(db: Db, userId: string): Promise<string> {
  return (await db.query('SELECT balance::text AS b FROM users WHERE user_id = $1', [userId]))[0].b;
}

export async function stockOf(db: Db, itemId: string): Promise<number> {
  return (await db.query('SELECT stock FROM items WHERE item_id = $1', [itemId]))[0].stock;
}

/** Every row a saga leaves, without the columns that differ by nature (times, ids, mode, lease). */
export async function sagaRows(db: Db, id: string) {
  const saga = await db.query(
    `SELECT status, user_id, item_id, quantity, price::text, error_code, error_message, completed_at IS NOT NULL AS completed,
            lease_owner IS NULL AS lease_released FROM saga_states WHERE transaction_id = $1`, [id]);
  const steps = await db.query(
    `SELECT step, kind, status, error_code, error_message, data FROM saga_step_results WHERE transaction_id = $1 ORDER BY id`, [id]);
  const logs = await db.query(`SELECT quantity, price::text, status FROM transaction_logs WHERE transaction_id = $1`, [id]);
  const notes = await db.query(`SELECT type, message, channels, status FROM notifications WHERE transaction_id = $1`, [id]);
  const scrub = (v: unknown) => JSON.parse(JSON.stringify(v).replaceAll(id, 'ID'));
  return scrub({ saga, steps, logs, notes });
}
