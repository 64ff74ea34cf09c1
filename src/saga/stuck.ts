import os from 'node:os';
import { Db } from '../db/pool';
import { UTC_NOW } from '../db/sql';
import { isAlive } from '../db/file-lock';

/**
 * The one definition of "stuck", used by `saga stuck`, `saga recover`, `saga compensate --stuck`,
 * `stats` and `db check` (product.md): a saga not in a final status
 * - whose owner was a process on this host that is gone (at once: nothing can move it any more), or
 * - that has not moved for `olderThan` and whose lease ran out (or that never had one: a program
 *   that takes no leases, like the design's own service, is given that long before anyone steps in);
 * plus every compensation_failed saga, which waits for an operator. A saga that moved within
 * `olderThan` is never taken over, whatever its lease says.
 *
 * "Moved" is the newest of its row's updated_at and its step records: a step that only moves on
 * records a step without touching the saga's row.
 */
export const DEFAULT_OLDER_THAN_MS = 60_000;

/** When the saga (alias `s`) last moved, as UTC TIMESTAMP. */
export const lastMoved = (s: string) => `GREATEST(${s}.updated_at, (SELECT max(r.executed_at) FROM saga_step_results r
                   WHERE r.transaction_id = ${s}.transaction_id))`;

/**
 * The stuck condition over saga_states aliased `s`, with two parameters the caller names:
 * `olderThanMs` (an int parameter, ms) and `deadOwners` (a text[] parameter: lease owners on this
 * host whose process is gone, from deadLocalOwners).
 */
export function stuckCondition(s: string, olderThanMs: string, deadOwners: string): string {
  return `(${s}.status = 'compensation_failed'
    OR (${s}.status IN ('pending', 'in_progress', 'compensating')
        AND (${s}.lease_owner = ANY(${deadOwners}::text[])
             OR ((${s}.lease_owner IS NULL OR ${s}.lease_expires_at IS NULL OR ${s}.lease_expires_at < now())
                 AND ${lastMoved(s)} < ${UTC_NOW} - ${olderThanMs}::int * interval '1 millisecond'))))`;
}

/** Why a saga (alias `s`) counts as stuck, in words, under the same parameters. */
export function whyStuck(s: string, olderThanMs: string, deadOwners: string): string {
  return `CASE WHEN ${s}.status = 'compensation_failed' THEN 'a compensation failed; waiting for an operator'
     WHEN ${s}.lease_owner = ANY(${deadOwners}::text[]) THEN 'owner ' || ${s}.lease_owner || ' is no longer running'
     WHEN ${s}.lease_owner IS NULL THEN 'no lease, not moved for over ' || (${olderThanMs}::int / 1000) || ' s'
     ELSE 'lease of ' || ${s}.lease_owner || ' expired' END`;
}

/** "host:pid:run" → the pid when the owner ran on this host, else undefined. */
export function localPid(owner: string | null, host = os.hostname()): number | undefined {
  if (!owner) return undefined;
  const parts = owner.split(':');
  if (parts.length < 3) return undefined;
  const pid = Number(parts[parts.length - 2]);
  return parts.slice(0, -2).join(':') === host && Number.isInteger(pid) ? pid : undefined;
}

/** Lease owners of sagas in flight that ran on this host and whose process no longer exists. */
export async function deadLocalOwners(db: Pick<Db, 'query'>): Promise<string[]> {
  const host = os.hostname();
  const rows = await db.query<{ owner: string }>(
    `SELECT DISTINCT lease_owner AS owner FROM saga_states
      WHERE status IN ('pending', 'in_progress', 'compensating') AND starts_with(lease_owner, $1)`, [`${host}:`]);
  return rows.map((r) => r.owner).filter((owner) => {
    const pid = localPid(owner, host);
    return pid !== undefined && !isAlive(pid);
  });
}
