import { Db } from '../db/pool';
import { NotFoundError, UsageError } from '../errors';
import type { SagaStatus } from './types';
import { sagaWhere, SagaFilter, Where } from './filter';

export interface SagaStep {
  step: string;
  kind: string;
  status: string;
  errorCode: string | null;
  errorMessage: string | null;
  data: Record<string, unknown> | null;
  executedAt: Date;
  durationMs: number | null;
}

export interface SagaView {
  transactionId: string;
  status: SagaStatus;
  mode: string;
  userId: string;
  itemId: string;
  quantity: number;
  price: string;
  total: string;
  errorCode: string | null;
  errorMessage: string | null;
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  steps: SagaStep[];
}

/** The saga and its whole timeline, forward and compensation, in one round trip. */
export const SAGA_SQL = `
SELECT s.transaction_id AS "transactionId", s.status, s.mode, s.user_id AS "userId", s.item_id AS "itemId",
       s.quantity, s.price::text AS price, (s.price * s.quantity)::text AS total,
       s.error_code AS "errorCode", s.error_message AS "errorMessage",
       s.created_at AS "createdAt", s.updated_at AS "updatedAt", s.completed_at AS "completedAt",
       s.lease_owner AS "leaseOwner", s.lease_expires_at AS "leaseExpiresAt",
       COALESCE((SELECT json_agg(json_build_object(
                  'step', r.step, 'kind', r.kind, 'status', r.status, 'errorCode', r.error_code,
                  'errorMessage', r.error_message, 'data', r.data,
                  'executedAt', to_char(r.executed_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                  'durationMs', r.duration_ms::float8) ORDER BY r.id)
                   FROM saga_step_results r WHERE r.transaction_id = s.transaction_id), '[]') AS steps
  FROM saga_states s WHERE s.transaction_id = $1`;

export async function getSaga(db: Db, id: string): Promise<SagaView> {
  const rows = await db.query<SagaView>(SAGA_SQL, [id]);
  if (rows.length === 0) throw new NotFoundError(`No saga with id "${id}".`);
  return rows[0];
}

/** FILTERS (src/saga/filter.ts), a page size, and the keyset cursor of the previous page. */
export interface ListFilters extends SagaFilter {
  limit: number;
  /** Keyset cursor: the last row of the previous page. */
  after?: { createdAt: string; transactionId: string };
}

export interface SagaListPage {
  sagas: Omit<SagaView, 'steps' | 'leaseOwner' | 'leaseExpiresAt'>[];
  count: number;
  countIsEstimate: boolean;
  nextCursor: string | null;
}

/** Past this many matches an exact count costs more than the page; the planner's estimate is shown. */
export const EXACT_COUNT_LIMIT = 100_000;

/**
 * One page, newest first, by keyset (created_at, transaction_id): a deep page costs what the
 * first one does, where OFFSET would read and drop every row before it.
 */
export async function listSagas(db: Db, f: ListFilters): Promise<SagaListPage> {
  const where = await sagaWhere(db, f);
  const params = [...where.params];
  let keyset = '';
  if (f.after) {
    params.push(f.after.createdAt, f.after.transactionId);
    keyset = ` AND (s.created_at, s.transaction_id) < ($${params.length - 1}::timestamp, $${params.length})`;
  }
  params.push(f.limit + 1);
  const rows = await db.query(
    `SELECT transaction_id AS "transactionId", status, mode, user_id AS "userId", item_id AS "itemId", quantity,
            price::text AS price, (price * quantity)::text AS total, error_code AS "errorCode",
            error_message AS "errorMessage", created_at AS "createdAt", updated_at AS "updatedAt",
            completed_at AS "completedAt", to_char(created_at, 'YYYY-MM-DD HH24:MI:SS.US') AS cursor_at
       FROM saga_states s WHERE ${where.sql}${keyset}
      ORDER BY s.created_at DESC, s.transaction_id DESC LIMIT $${params.length}`, params);
  const more = rows.length > f.limit;
  const page = rows.slice(0, f.limit);
  const last = page[page.length - 1];
  const { count, estimate } = await countSagas(db, where);
  return {
    sagas: page.map(({ cursor_at: _c, ...s }) => s as SagaListPage['sagas'][number]),
    count,
    countIsEstimate: estimate,
    nextCursor: more && last ? encodeCursor(last.cursor_at, last.transactionId) : null,
  };
}

async function countSagas(db: Db, where: Where): Promise<{ count: number; estimate: boolean }> {
  const plan = await db.query(`EXPLAIN (FORMAT JSON) SELECT 1 FROM saga_states s WHERE ${where.sql}`, where.params);
  const estimated = Math.round(plan[0]['QUERY PLAN'][0].Plan['Plan Rows']);
  if (estimated > EXACT_COUNT_LIMIT) return { count: estimated, estimate: true };
  const rows = await db.query(`SELECT count(*)::int AS n FROM saga_states s WHERE ${where.sql}`, where.params);
  return { count: rows[0].n, estimate: false };
}

export function encodeCursor(createdAt: string, transactionId: string): string {
  return Buffer.from(JSON.stringify([createdAt, transactionId])).toString('base64url');
}

export function decodeCursor(raw: string): { createdAt: string; transactionId: string } {
  try {
    const [createdAt, transactionId] = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (typeof createdAt !== 'string' || typeof transactionId !== 'string' || Number.isNaN(Date.parse(createdAt))) throw new Error();
    return { createdAt, transactionId };
  } catch {
    throw new UsageError(`--after is not a cursor printed by saga list: "${raw.slice(0, 80)}".`);
  }
}
