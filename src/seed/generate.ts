import { UsageError } from '../errors';
import { parseIntOption } from '../duration';

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

export function centsToText(cents: number): string {
  return `${Math.trunc(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
}

export const userId = (k: number) => `gen-user-${String(k).padStart(7, '0')}`;
export const itemId = (k: number) => `gen-item-${String(k).padStart(6, '0')}`;

/** One users row in COPY text format: user_id, name, balance, status, purchase_limit. */
export function userLine(opts: GenerateOptions, k: number): string {
  const balance = opts.balance ?? centsToText(draw(opts.seed, k, 1, 100_000, 10_000_000));
  return `${userId(k)}\tUser ${k}\t${balance}\tactive\t0.00\n`;
}

/** One items row in COPY text format: item_id, name, price, stock, is_available. */
export function itemLine(opts: GenerateOptions, k: number): string {
  const price = centsToText(draw(opts.seed, k, 2, 100, 50_000));
  const stock = opts.stock ?? draw(opts.seed, k, 3, 1_000, 100_000);
  return `${itemId(k)}\tItem ${k}\t${price}\t${stock}\tt\n`;
}

export interface GenerateFlags { users?: string; items?: string; seed?: string; balance?: string; stock?: string }

export function parseGenerateOptions(flags: GenerateFlags): GenerateOptions {
  const users = parseIntOption(flags.users ?? '0', '--users', 0, 100_000_000);
  const items = parseIntOption(flags.items ?? '0', '--items', 0, 10_000_000);
  if (users + items === 0) throw new UsageError('Nothing to generate: give --users N and/or --items M.');
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
  return { users, items, seed, balance, stock };
}
