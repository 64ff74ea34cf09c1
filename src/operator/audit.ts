import os from 'node:os';
import { Db } from '../db/pool';

export interface AuditEntry {
  action: 'compensate' | 'recover';
  transactionId: string | null;
  reason: string;
  outcome: string;
  details?: unknown;
}

/** One row per operator action: who (OS user), where (host), when, on what, why, and what came of it. */
export async function recordAudit(db: Pick<Db, 'query'>, entry: AuditEntry): Promise<void> {
  await db.query(
    `INSERT INTO operator_audit (os_user, host, action, transaction_id, reason, outcome, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [os.userInfo().username, os.hostname(), entry.action, entry.transactionId, entry.reason, entry.outcome,
      entry.details === undefined ? null : JSON.stringify(entry.details)],
  );
}
