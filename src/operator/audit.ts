import { Db } from '../db/pool';
import type { AuditAction } from '../saga/types';

/** Who acts: the CLI passes the OS user and host; an application passes its own names. */
export interface Actor {
  user: string;
  host: string;
}

export interface AuditEntry {
  action: AuditAction;
  transactionId: string | null;
  reason: string;
  outcome: string;
  details?: unknown;
}

/** One row per operator action: who, where, when, on what, why, and what came of it. */
export async function recordAudit(db: Pick<Db, 'query'>, actor: Actor, entry: AuditEntry): Promise<void> {
  await db.query(
    `INSERT INTO operator_audit (os_user, host, action, transaction_id, reason, outcome, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [actor.user, actor.host, entry.action, entry.transactionId, entry.reason, entry.outcome,
      entry.details === undefined ? null : JSON.stringify(entry.details)],
  );
}
