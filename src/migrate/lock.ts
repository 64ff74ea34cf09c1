import { Client, ClientConfig } from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnreachableError } from '../errors';
import { applicationName } from '../db/pool';

/** Advisory lock keys (two-int form): sagactl's namespace, then one key per kind of work. */
export const LOCK_NAMESPACE = 727_310;
export const LOCK_KEYS = { migrate: 1 } as const;

/**
 * Runs `fn` while holding a session advisory lock on a dedicated connection that never opens a
 * transaction (`fn` may send it short statements, never a BEGIN). Waiting polls
 * pg_try_advisory_lock: a waiter blocked inside pg_advisory_lock would
 * hold a snapshot, and the holder's CREATE INDEX CONCURRENTLY would wait for it forever.
 */
export async function withAdvisoryLock<T>(
  connection: string | ClientConfig,
  key: number,
  timeoutMs: number,
  onWait: (holder: string) => void,
  fn: (lockClient: Client) => Promise<T>,
): Promise<T> {
  // Its own connection, never the pool's: held for the whole run, and never inside a transaction.
  const config = typeof connection === 'string' ? { connectionString: connection } : connection;
  const client = new Client({ ...config, application_name: applicationName('lock') });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await acquire(client, key, timeoutMs, onWait);
    try {
      return await fn(client);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_NAMESPACE, key]).catch(() => undefined);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function acquire(client: Client, key: number, timeoutMs: number, onWait: (holder: string) => void) {
  const deadline = Date.now() + timeoutMs;
  let delay = 100;
  let announced = false;
  for (;;) {
    const { rows } = await client.query('SELECT pg_try_advisory_lock($1, $2) AS won', [LOCK_NAMESPACE, key]);
    if (rows[0].won) return;
    const holder = await describeHolder(client, key);
    if (Date.now() >= deadline) {
      throw new UnreachableError(`Timed out after ${timeoutMs / 1000}s waiting for the migration lock, held by ${holder}.`,
        'Wait for it to finish, raise --lock-timeout, or end that session.');
    }
    if (!announced) onWait(holder);
    announced = true;
    await sleep(Math.min(delay, Math.max(0, deadline - Date.now())) * (0.75 + Math.random() / 2));
    delay = Math.min(delay * 2, 1000);
  }
}

export async function describeHolder(client: Client, key: number): Promise<string> {
  const { rows } = await client.query(
    `SELECT a.pid, a.application_name, a.usename, a.client_addr, a.backend_start
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 2`,
    [LOCK_NAMESPACE, key],
  );
  if (rows.length === 0) return 'a session that has just let it go';
  const h = rows[0];
  return `pid ${h.pid} (${h.application_name || 'no application_name'}, user ${h.usename}` +
    `${h.client_addr ? ` from ${h.client_addr}` : ''}, connected ${new Date(h.backend_start).toISOString()})`;
}
