import { MODES, SAGA_STATUS, SagaMode, SagaStatus } from 'sagactl';
import { ApiError } from './api-error';

/**
 * The HTTP requests, checked before anything is read or written. The id rules and the quantity
 * bound are sagactl's (`saga run`'s --user/--item/--id/--qty); the library checks them again in
 * purchase(), but the service must refuse a hostile id before its own lookups.
 */
const ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]*$/;
const MAX_QUANTITY = 10_000;

export interface PurchaseRequest {
  userId: string;
  itemId: string;
  quantity: number;
  mode?: SagaMode;
  /** Idempotency key: a retry with the same id and request returns the same saga, executed once. */
  id?: string;
}

export interface SagaQuery {
  status?: SagaStatus;
  userId?: string;
  itemId?: string;
  mode?: SagaMode;
  limit: number;
  cursor?: string;
}

const PURCHASE_FIELDS = ['userId', 'itemId', 'quantity', 'mode', 'id'];

export function parsePurchase(body: unknown): PurchaseRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw ApiError.badRequest('The body must be a JSON object: {"userId", "itemId", "quantity", "mode"?, "id"?}.');
  }
  const fields = body as Record<string, unknown>;
  if ('price' in fields) throw ApiError.badRequest('price is not accepted: the price is read from the item.');
  const unknown = Object.keys(fields).filter((k) => !PURCHASE_FIELDS.includes(k));
  if (unknown.length > 0) throw ApiError.badRequest(`Unknown field(s): ${unknown.join(', ')}.`);
  const quantity = fields.quantity ?? 1;
  if (typeof quantity !== 'number' || !Number.isSafeInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY) {
    throw ApiError.badRequest(`quantity must be a whole number from 1 to ${MAX_QUANTITY}, got ${JSON.stringify(quantity)}.`);
  }
  return {
    userId: parseId(fields.userId, 'userId', 50),
    itemId: parseId(fields.itemId, 'itemId', 50),
    quantity,
    mode: fields.mode === undefined ? undefined : parseMode(fields.mode),
    id: fields.id === undefined ? undefined : parseId(fields.id, 'id', 90),
  };
}

export function parseSagaQuery(query: Record<string, unknown>): SagaQuery {
  const one = (name: string): string | undefined => {
    const v = query[name];
    if (v === undefined || v === '') return undefined;
    if (typeof v !== 'string') throw ApiError.badRequest(`${name} must be given once.`);
    return v;
  };
  const status = one('status');
  if (status !== undefined && !(Object.values(SAGA_STATUS) as string[]).includes(status)) {
    throw ApiError.badRequest(`status must be one of ${Object.values(SAGA_STATUS).join(', ')}, got ${JSON.stringify(status.slice(0, 40))}.`);
  }
  const limit = one('limit') ?? '50';
  if (!/^\d{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > 1000) {
    throw ApiError.badRequest(`limit must be a whole number from 1 to 1000, got ${JSON.stringify(limit.slice(0, 40))}.`);
  }
  const user = one('user');
  const item = one('item');
  const mode = one('mode');
  return {
    status: status as SagaStatus | undefined,
    userId: user === undefined ? undefined : parseId(user, 'user', 50),
    itemId: item === undefined ? undefined : parseId(item, 'item', 50),
    mode: mode === undefined ? undefined : parseMode(mode),
    limit: Number(limit),
    cursor: one('cursor'),
  };
}

export function parseId(raw: unknown, name: string, max: number): string {
  if (typeof raw !== 'string') throw ApiError.badRequest(`${name} must be a string, got ${raw === null ? 'null' : typeof raw}.`);
  if (raw.length === 0 || raw.length > max || !ID.test(raw)) {
    throw ApiError.badRequest(`${name} must be 1 to ${max} characters of letters, digits and . _ : @ -, got ${JSON.stringify(raw.slice(0, 60))}.`);
  }
  return raw;
}

function parseMode(raw: unknown): SagaMode {
  if (typeof raw !== 'string' || !(MODES as readonly string[]).includes(raw)) {
    throw ApiError.badRequest(`mode must be one of ${MODES.join(', ')}, got ${JSON.stringify(raw)}.`);
  }
  return raw as SagaMode;
}
