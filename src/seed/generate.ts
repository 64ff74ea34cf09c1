import { centsToText } from '../money';
import { UsageError } from '../errors';
import { parseInstant, parseIntOption } from '../duration';
import { ERROR_MESSAGES, ErrorCode } from '../saga/types';

/**
 * Deterministic fake rows: row k is a pure function of (seed, k), so the same seed gives the same
 * rows and row k is the same whatever the count. Money is drawn as integer cents and written
 * as text; no float ever holds an amount.
 */
export interface GenerateOptions {
  users: number;
  items: number;
  seed: number;
  /** Fixed balance for every user ("250.00"); else drawn per user. */
  balance?: string;
  /** Fixed stock for every item; else drawn per item. */
  stock?: number;
  /** Sagas (gen-saga-0000000001 ...), created over `days` days up to `endMs`; absent: none. */
  sagas?: number;
  days?: number;
  endMs?: number;
}

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A uniform whole number in [min, max] for (seed, k, salt). */
export function draw(seed: number, k: number, salt: number, min: number, max: number): number {
  const h = mix32(mix32(seed ^ Math.imul(salt, 0x9e3779b9)) ^ mix32(k));
  return min + (h % (max - min + 1));
}

/** A drawn whole number of cents as an amount ("1.05"): the money helper's, on a safe integer. */
export const amountOfCents = (cents: number): string => centsToText(BigInt(cents));

export const userId = (k: number) => `gen-user-${String(k).padStart(7, '0')}`;
export const itemId = (k: number) => `gen-item-${String(k).padStart(6, '0')}`;

/** One users row in COPY text format: user_id, name, balance, status, purchase_limit. */
export function userLine(opts: GenerateOptions, k: number): string {
  const balance = opts.balance ?? amountOfCents(draw(opts.seed, k, 1, 100_000, 10_000_000));
  return `${userId(k)}\tUser ${k}\t${balance}\tactive\t0.00\n`;
}

/** One items row in COPY text format: item_id, name, price, stock, is_available. */
export function itemLine(opts: GenerateOptions, k: number): string {
  const price = amountOfCents(draw(opts.seed, k, 2, 100, 50_000));
  const stock = opts.stock ?? draw(opts.seed, k, 3, 1_000, 100_000);
  return `${itemId(k)}\tItem ${k}\t${price}\t${stock}\tt\n`;
}

export interface GenerateFlags {
  users?: string; items?: string; seed?: string; balance?: string; stock?: string; sagas?: string; days?: string; end?: string;
}

export function parseGenerateOptions(flags: GenerateFlags): GenerateOptions {
  const users = parseIntOption(flags.users ?? '0', '--users', 0, 100_000_000);
  const items = parseIntOption(flags.items ?? '0', '--items', 0, 10_000_000);
  if (flags.sagas === undefined && (flags.days !== undefined || flags.end !== undefined)) {
    throw new UsageError('--days and --end place generated sagas in time; give --sagas N too.');
  }
  const sagas = flags.sagas === undefined ? undefined : parseSagaOptions(flags);
  if (users + items + (sagas?.sagas ?? 0) === 0) {
    throw new UsageError('Nothing to generate: give --users N and/or --items M.', 'Or sagas: --sagas N [--days D] [--end TIME].');
  }
  const seed = parseIntOption(flags.seed ?? '1', '--seed', 0, 2_147_483_647);
  let balance: string | undefined;
  if (flags.balance !== undefined) {
    if (!/^\d{1,8}(\.\d{1,2})?$/.test(flags.balance)) {
      throw new UsageError(`--balance must be an amount from 0 to 99999999.99 with at most two decimals, got "${flags.balance}".`);
    }
    const [whole, frac = ''] = flags.balance.split('.');
    balance = `${Number(whole)}.${frac.padEnd(2, '0')}`;
  }
  const stock = flags.stock === undefined ? undefined : parseIntOption(flags.stock, '--stock', 0, 2_147_483_647);
  return { users, items, seed, balance, stock, ...sagas };
}

function parseSagaOptions(flags: GenerateFlags): Pick<GenerateOptions, 'sagas' | 'days' | 'endMs'> {
  const sagas = parseIntOption(flags.sagas!, '--sagas', 0, 100_000_000);
  const days = parseIntOption(flags.days ?? '30', '--days', 1, 3650);
  // Default end: this minute, so the sagas lead up to now; pass --end to get the same rows again.
  const endMs = flags.end === undefined ? Math.floor(Date.now() / 60_000) * 60_000 : parseInstant(flags.end, '--end').getTime();
  return { sagas, days, endMs };
}

export const sagaId = (k: number) => `gen-saga-${String(k).padStart(10, '0')}`;

/** Users and items the sagas buy with when none are generated alongside. */
export const SAGA_USERS = 1000;
export const SAGA_ITEMS = 100;

const FAILED_CODES: ErrorCode[] = ['INSUFFICIENT_BALANCE', 'INSUFFICIENT_BALANCE', 'PURCHASE_LIMIT_EXCEEDED', 'USER_NOT_ACTIVE'];
const COMPENSATED_CODES: ErrorCode[] = ['INSUFFICIENT_STOCK', 'INSUFFICIENT_STOCK', 'ITEM_NOT_AVAILABLE'];
const IN_FLIGHT = ['pending', 'in_progress', 'in_progress', 'compensating'];

/** A timestamp in COPY text from microseconds since the epoch (UTC, like the columns). */
export function timestampText(us: number): string {
  return `${new Date(Math.floor(us / 1000)).toISOString().slice(0, 23)}${String(us % 1000).padStart(3, '0')}`;
}

/** Latency in µs: mostly 1.5-8 ms, a tail to 50 ms and 0.5 s, and one in a thousand up to 3 s. */
function latencyUs(seed: number, k: number): number {
  const r = draw(seed, k, 16, 0, 9999);
  if (r < 9000) return draw(seed, k, 17, 1_500, 8_000);
  if (r < 9900) return draw(seed, k, 17, 8_000, 50_000);
  if (r < 9990) return draw(seed, k, 17, 50_000, 500_000);
  return draw(seed, k, 17, 500_000, 3_000_000);
}

/** A generated saga: what its row says, from which its history (src/seed/history.ts) follows. */
export interface GeneratedSaga {
  id: string;
  status: string;
  code: ErrorCode | null;
  userId: string;
  itemId: string;
  quantity: number;
  price: string;
  mode: string;
  createdUs: number;
  updatedUs: number;
  completedUs?: number;
  leaseUs?: number;
}

/**
 * Saga k, a pure function of (seed, k) and the window (--sagas, --days, --end): sagas are spread
 * evenly over the window in k order. The mix: 90% completed, 5.5% failed at validate_user, 4.3%
 * compensated after reserve_inventory, 0.1% compensation_failed and 0.1% still in flight (lease
 * expired 30 s after start: stuck); 70% orchestration. The price is the generated item's own (same
 * seed), as text: no float holds it.
 */
export function generatedSaga(opts: GenerateOptions, k: number): GeneratedSaga {
  const { seed } = opts;
  const n = opts.sagas ?? 1;
  const spanUs = (opts.days ?? 30) * 86_400_000_000;
  const startUs = (opts.endMs ?? 0) * 1000 - spanUs;
  const createdUs = startUs + Math.floor((k - 1 + draw(seed, k, 15, 0, 999_999) / 1e6) * (spanUs / n));
  const item = draw(seed, k, 13, 1, opts.items || SAGA_ITEMS);
  const base = {
    id: sagaId(k), userId: userId(draw(seed, k, 12, 1, opts.users || SAGA_USERS)), itemId: itemId(item),
    quantity: draw(seed, k, 14, 1, 5), price: amountOfCents(draw(seed, item, 2, 100, 50_000)),
    mode: draw(seed, k, 11, 0, 9) < 7 ? 'orchestration' : 'choreography', createdUs,
  };
  const r = draw(seed, k, 10, 0, 9999);
  const pick = <T>(list: readonly T[]) => list[draw(seed, k, 18, 0, list.length - 1)];
  const quick = createdUs + draw(seed, k, 17, 1_000, 6_000);
  if (r < 9000) {
    const done = createdUs + latencyUs(seed, k);
    return { ...base, status: 'completed', code: null, updatedUs: done, completedUs: done };
  }
  if (r < 9550) return { ...base, status: 'failed', code: pick(FAILED_CODES), updatedUs: quick };
  if (r < 9980) return { ...base, status: 'compensated', code: pick(COMPENSATED_CODES), updatedUs: quick };
  if (r < 9990) return { ...base, status: 'compensation_failed', code: 'COMPENSATION_FAILED', updatedUs: quick };
  const status = pick(IN_FLIGHT);
  return { ...base, status, code: status === 'compensating' ? 'INSUFFICIENT_STOCK' : null, updatedUs: createdUs, leaseUs: createdUs + 30_000_000 };
}

export const NUL = '\\N';

/** One saga_states row in COPY text format. */
export function sagaLine(opts: GenerateOptions, k: number): string {
  const s = generatedSaga(opts, k);
  return [s.id, s.status, s.userId, s.itemId, s.quantity, s.price, s.mode, timestampText(s.createdUs),
    timestampText(s.updatedUs), s.completedUs === undefined ? NUL : timestampText(s.completedUs), s.code ?? NUL,
    s.code ? ERROR_MESSAGES[s.code] : NUL, s.leaseUs === undefined ? NUL : 'generated', s.leaseUs === undefined ? NUL : `${timestampText(s.leaseUs)}Z`,
  ].join('\t') + '\n';
}
