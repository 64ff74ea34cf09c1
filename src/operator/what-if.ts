import type { Pool, PoolClient, QueryConfig } from 'pg';
import { Db, Tx, typed } from '../db/pool';

/**
 * `--what-if`: the whole action performed for real inside one transaction, on one connection, then
 * rolled back. The action's own transactions become savepoints of it (and so does every statement
 * it sends outside one, so a statement that fails, as a busy row does, fails alone, as it would in a
 * real run). What changed is read after the work, then again once the work is rolled back to
 * where it began (before), on the same connection: the report is what the real run does, row by row.
 */
export interface WhatIfChanges {
  sagas: { transactionId: string; before: string | null; after: string | null }[];
  users: { userId: string; before: string; after: string }[];
  items: { itemId: string; before: number; after: number }[];
  /** Ledger rows the action inserted, in order. */
  ledger: { account: string; accountId: string; delta: string; source: string; transactionId: string | null; step: string | null; kind: string | null }[];
  notifications: { notificationId: string; before: { status: string; attempts: number } | null; after: { status: string; attempts: number } | null }[];
  transactionLogs: { logId: string; before: string | null; after: string | null }[];
  /** Audit rows the real run would write. */
  auditRows: number;
}

export async function whatIf<T>(db: Db, work: (db: Db) => Promise<T>): Promise<{ result: T; changes: WhatIfChanges }> {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    const marks = (await client.query(`SELECT COALESCE((SELECT max(id) FROM ledger), 0)::text AS ledger,
                                              COALESCE((SELECT max(id) FROM operator_audit), 0)::text AS audit`)).rows[0];
    await client.query('SAVEPOINT whatif_work');
    const result = await work(singleConnection(client, db));
    const changes = await changesSince(client, marks);
    return { result, changes };
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }
}

/** A Db over one connection inside an open transaction: every transaction and loose statement a savepoint. */
function singleConnection(client: PoolClient, base: Db): Db {
  let n = 0;
  const run = (sql: string | QueryConfig, params?: unknown[]) => client.query(typed(sql, params));
  async function savepoint<T>(fn: () => Promise<T>): Promise<T> {
    const name = `whatif_${++n}`;
    await client.query(`SAVEPOINT ${name}`);
    try {
      const out = await fn();
      await client.query(`RELEASE SAVEPOINT ${name}`);
      return out;
    } catch (err) {
      await client.query(`ROLLBACK TO SAVEPOINT ${name}`);
      throw err;
    }
  }
  const tx: Tx = { client, query: run };
  // The engine sends its step statements through pool.query: they run here too.
  const pool = { query: (sql: string | QueryConfig, params?: unknown[]) => savepoint(() => run(sql, params)) } as unknown as Pool;
  return {
    pool,
    url: base.url,
    label: base.label,
    query: async (sql, params) => (await savepoint(() => run(sql, params))).rows,
    withTransaction: (fn) => savepoint(() => fn(tx)),
  };
}

const CHANGES_SQL = `
WITH moved AS (SELECT * FROM ledger WHERE id > $1::bigint),
     audited AS (SELECT DISTINCT transaction_id FROM operator_audit WHERE id > $2::bigint AND transaction_id IS NOT NULL),
     sagas AS (SELECT transaction_id FROM moved WHERE transaction_id IS NOT NULL UNION SELECT transaction_id FROM audited)
SELECT (SELECT COALESCE(json_agg(transaction_id ORDER BY transaction_id), '[]') FROM sagas) AS sagas,
       (SELECT COALESCE(json_agg(DISTINCT account_id), '[]') FROM moved WHERE account = 'user') AS users,
       (SELECT COALESCE(json_agg(DISTINCT account_id), '[]') FROM moved WHERE account = 'item') AS items,
       (SELECT COALESCE(json_agg(json_build_object('account', account, 'accountId', account_id, 'delta', delta::text, 'source', source,
                 'transactionId', transaction_id, 'step', step, 'kind', kind) ORDER BY id), '[]') FROM moved) AS ledger,
       (SELECT count(*)::int FROM operator_audit WHERE id > $2::bigint) AS "auditRows"`;

const STATE_SQL = `
SELECT (SELECT COALESCE(json_object_agg(transaction_id, status), '{}') FROM saga_states WHERE transaction_id = ANY($1::text[])) AS sagas,
       (SELECT COALESCE(json_object_agg(user_id, balance::text), '{}') FROM users WHERE user_id = ANY($2::text[])) AS users,
       (SELECT COALESCE(json_object_agg(item_id, stock), '{}') FROM items WHERE item_id = ANY($3::text[])) AS items,
       (SELECT COALESCE(json_object_agg(notification_id, json_build_object('status', status, 'attempts', attempts)), '{}')
          FROM notifications WHERE transaction_id = ANY($1::text[])) AS notifications,
       (SELECT COALESCE(json_object_agg(log_id, status), '{}') FROM transaction_logs WHERE transaction_id = ANY($1::text[])) AS logs`;

type State = { sagas: Record<string, string>; users: Record<string, string>; items: Record<string, number>;
  notifications: Record<string, { status: string; attempts: number }>; logs: Record<string, string> };

async function changesSince(client: PoolClient, marks: { ledger: string; audit: string }): Promise<WhatIfChanges> {
  const c = (await client.query(typed(CHANGES_SQL, [marks.ledger, marks.audit]))).rows[0];
  const params = [c.sagas, c.users, c.items];
  const after: State = (await client.query(typed(STATE_SQL, params))).rows[0];
  await client.query('ROLLBACK TO SAVEPOINT whatif_work');
  const before: State = (await client.query(typed(STATE_SQL, params))).rows[0];
  const keys = (a: object, b: object) => [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  return {
    sagas: (c.sagas as string[]).map((id) => ({ transactionId: id, before: before.sagas[id] ?? null, after: after.sagas[id] ?? null }))
      .filter((s) => s.before !== s.after),
    users: (c.users as string[]).sort().map((id) => ({ userId: id, before: before.users[id], after: after.users[id] })),
    items: (c.items as string[]).sort().map((id) => ({ itemId: id, before: before.items[id], after: after.items[id] })),
    ledger: c.ledger,
    notifications: keys(before.notifications, after.notifications)
      .map((id) => ({ notificationId: id, before: before.notifications[id] ?? null, after: after.notifications[id] ?? null }))
      .filter((x) => !same(x.before, x.after)),
    transactionLogs: keys(before.logs, after.logs).map((id) => ({ logId: id, before: before.logs[id] ?? null, after: after.logs[id] ?? null }))
      .filter((x) => x.before !== x.after),
    auditRows: c.auditRows,
  };
}
