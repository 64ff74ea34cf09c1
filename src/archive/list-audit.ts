import { Db } from '../db/pool';
import { isEmptyFilter, sagaWhere, SagaFilter } from '../saga/filter';

/**
 * `sagactl audit list`: the operator_audit trail, newest first, with keyset paging on (at, id) (a
 * deep page costs what the first does). FILTERS select the sagas the rows name (a row of a bulk
 * action, which names none, then drops out); since/until are when the action happened.
 */
export interface AuditQuery {
  filter: SagaFilter;
  since?: Date;
  until?: Date;
  actions?: string[];
  limit: number;
  /** The cursor of the previous page: the last id it showed. */
  before?: string;
}

export interface AuditEntry {
  id: string;
  at: Date;
  osUser: string;
  host: string;
  action: string;
  transactionId: string | null;
  reason: string;
  outcome: string;
  details: unknown;
}

export interface AuditPage {
  entries: AuditEntry[];
  nextCursor: string | null;
}

export async function listAudit(db: Db, q: AuditQuery): Promise<AuditPage> {
  const where = await sagaWhere(db, q.filter);
  const params = [...where.params];
  const p = (v: unknown) => `$${params.push(v)}`;
  const conds: string[] = [];
  if (!isEmptyFilter(q.filter)) conds.push(`EXISTS (SELECT 1 FROM saga_states s WHERE s.transaction_id = a.transaction_id AND ${where.sql})`);
  if (q.since) conds.push(`a.at >= ${p(q.since.toISOString())}::timestamptz`);
  if (q.until) conds.push(`a.at < ${p(q.until.toISOString())}::timestamptz`);
  if (q.actions) conds.push(`a.action = ANY(${p(q.actions)}::text[])`);
  // Keyset on (at, id): the cursor is the last row's id, and the page goes on from that row's moment.
  if (q.before) conds.push(`(a.at, a.id) < (SELECT c.at, c.id FROM operator_audit c WHERE c.id = ${p(q.before)}::bigint)`);
  const rows = await db.query<AuditEntry>(
    `SELECT a.id::text AS id, a.at, a.os_user AS "osUser", a.host, a.action, a.transaction_id AS "transactionId", a.reason, a.outcome, a.details
       FROM operator_audit a ${conds.length > 0 ? `WHERE ${conds.join(' AND ')}` : ''}
      ORDER BY a.at DESC, a.id DESC LIMIT ${p(q.limit + 1)}`, params);
  const entries = rows.slice(0, q.limit);
  return { entries, nextCursor: rows.length > q.limit ? entries[entries.length - 1].id : null };
}

/** The details of a row in a few words, for a table: its keys and short values. */
export function summariseDetails(details: unknown, max = 80): string {
  if (details === null || details === undefined) return '';
  const text = typeof details === 'object' && !Array.isArray(details)
    ? Object.entries(details as Record<string, unknown>).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ')
    : JSON.stringify(details);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
