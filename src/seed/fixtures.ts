import fs from 'node:fs';
import path from 'node:path';
import { Db, Tx } from '../db/pool';
import { packageRoot } from '../paths';

export interface FixtureUser { userId: string; name: string; balance: string; status: string; purchaseLimit: string }
export interface FixtureItem { itemId: string; name: string; price: string; stock: number; isAvailable: boolean }

export function readFixtures(root = packageRoot()): { users: FixtureUser[]; items: FixtureItem[] } {
  const read = (file: string) => JSON.parse(fs.readFileSync(path.join(root, 'seeds', file), 'utf8'));
  return { users: read('users.json'), items: read('items.json') };
}

export interface FixtureResult { users: { inserted: number; reset: number }; items: { inserted: number; reset: number } }

/**
 * Upserts the design's fixture rows. Without `reset` existing rows are left alone, so a second run
 * changes nothing; with it, rows that drifted are put back (only those, so `reset` counts changes).
 * Money stays a string all the way into NUMERIC.
 */
export async function loadFixtures(db: Db, opts: { reset?: boolean } = {}): Promise<FixtureResult> {
  const { users, items } = readFixtures();
  return db.withTransaction(async (tx) => {
    await declareSeed(tx);
    const u = await tx.query(
      `INSERT INTO users (user_id, name, balance, status, purchase_limit)
       SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::numeric[], $4::varchar[], $5::numeric[])
       ON CONFLICT (user_id) DO ${opts.reset ? `UPDATE SET name = EXCLUDED.name, balance = EXCLUDED.balance,
         status = EXCLUDED.status, purchase_limit = EXCLUDED.purchase_limit, updated_at = CURRENT_TIMESTAMP
       WHERE (users.name, users.balance, users.status, users.purchase_limit)
         IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.balance, EXCLUDED.status, EXCLUDED.purchase_limit)` : 'NOTHING'}
       RETURNING (xmax = 0) AS inserted`,
      [users.map((x) => x.userId), users.map((x) => x.name), users.map((x) => x.balance),
        users.map((x) => x.status), users.map((x) => x.purchaseLimit)],
    );
    const i = await tx.query(
      `INSERT INTO items (item_id, name, price, stock, is_available)
       SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::numeric[], $4::int[], $5::bool[])
       ON CONFLICT (item_id) DO ${opts.reset ? `UPDATE SET name = EXCLUDED.name, price = EXCLUDED.price,
         stock = EXCLUDED.stock, is_available = EXCLUDED.is_available, updated_at = CURRENT_TIMESTAMP
       WHERE (items.name, items.price, items.stock, items.is_available)
         IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.price, EXCLUDED.stock, EXCLUDED.is_available)` : 'NOTHING'}
       RETURNING (xmax = 0) AS inserted`,
      [items.map((x) => x.itemId), items.map((x) => x.name), items.map((x) => x.price),
        items.map((x) => x.stock), items.map((x) => x.isAvailable)],
    );
    const count = (rows: { inserted: boolean }[]) => ({
      inserted: rows.filter((r) => r.inserted).length,
      reset: rows.filter((r) => !r.inserted).length,
    });
    return { users: count(u.rows), items: count(i.rows) };
  });
}

/**
 * The ledger writes what seeding moves as `seed` (a declared source), not as a movement nobody
 * explains: set for this transaction only.
 */
export async function declareSeed(tx: Pick<Tx, 'query'>): Promise<void> {
  await tx.query(`SELECT set_config('sagactl.source', 'seed', true)`);
}

/** The domain tables, children first. operator_audit is kept: an audit trail outlives a reset. */
export const DOMAIN_TABLES = [
  'saga_events', 'saga_step_results', 'notifications', 'transaction_logs', 'saga_states', 'items', 'users', 'ledger',
] as const;

export async function resetDomain(db: Db): Promise<void> {
  // Identities go on counting: restarting them needs ownership of their sequences, which the
  // operator role that seeds does not have (docs/roles.md); the ids are surrogate keys only.
  await db.query(`TRUNCATE ${DOMAIN_TABLES.join(', ')}`);
}
