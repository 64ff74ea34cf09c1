import { UsageError } from '../errors';
import { parseDuration, parseIntOption } from '../duration';
import { MODES, PurchaseRequest, SagaMode, STEPS, StepName } from './types';

/** The largest quantity one purchase may ask for: far above any real order, far below overflow. */
export const MAX_QUANTITY = 10_000;

const ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]*$/;

export function parseId(raw: string, option: string, max: number): string {
  if (raw.length === 0 || raw.length > max || !ID.test(raw)) {
    throw new UsageError(`${option} must be 1 to ${max} characters of letters, digits and . _ : @ -, got ${JSON.stringify(raw.slice(0, 120))}.`);
  }
  return raw;
}

export function parseMode(raw: string | undefined): SagaMode {
  const mode = raw ?? 'orchestration';
  if (!(MODES as readonly string[]).includes(mode)) {
    throw new UsageError(`--mode must be one of ${MODES.join(', ')}, got "${mode}".`);
  }
  return mode as SagaMode;
}

export function parseStep(raw: string, option: string): StepName {
  if (!(STEPS as readonly string[]).includes(raw)) throw new UsageError(`${option} must be one of ${STEPS.join(', ')}, got "${raw}".`);
  return raw as StepName;
}

/** A purchase as a program asks for it (the library); the CLI's flags become one of these. */
export interface PurchaseInput {
  userId: string;
  itemId: string;
  quantity?: number;
  mode?: SagaMode;
  /** Idempotency key: the same id with the same request returns the existing saga. */
  id?: string;
  /** Inject a failure at this step (drills and tests). */
  failAt?: StepName;
}

/** The typed input checked as strictly as the CLI's flags: a UsageError (exit 2) names what is wrong. */
export function checkPurchase(input: PurchaseInput): PurchaseRequest {
  if (typeof input !== 'object' || input === null) throw new UsageError('purchase() needs { userId, itemId, quantity, mode }.');
  const text = (v: unknown, name: string, max: number) => {
    if (typeof v !== 'string') throw new UsageError(`${name} must be a string, got ${typeof v}.`);
    return parseId(v, name, max);
  };
  const quantity = input.quantity ?? 1;
  if (!Number.isSafeInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY) {
    throw new UsageError(`quantity must be a whole number from 1 to ${MAX_QUANTITY}, got ${JSON.stringify(quantity)}.`);
  }
  return {
    userId: text(input.userId, 'userId', 50),
    itemId: text(input.itemId, 'itemId', 50),
    quantity,
    mode: parseMode(input.mode),
    transactionId: input.id === undefined ? undefined : text(input.id, 'id', 90),
    failAt: input.failAt === undefined ? undefined : parseStep(input.failAt, 'failAt'),
  };
}

export function parsePurchase(flags: { user?: string; item?: string; qty?: string; mode?: string; id?: string; failAt?: string }): PurchaseRequest {
  if (flags.user === undefined) throw new UsageError('--user is required.');
  if (flags.item === undefined) throw new UsageError('--item is required.');
  return {
    userId: parseId(flags.user, '--user', 50),
    itemId: parseId(flags.item, '--item', 50),
    quantity: parseIntOption(flags.qty ?? '1', '--qty', 1, MAX_QUANTITY),
    mode: parseMode(flags.mode),
    // Derived ids ('log-' + id) must fit VARCHAR(100).
    transactionId: flags.id === undefined ? undefined : parseId(flags.id, '--id', 90),
    failAt: flags.failAt === undefined ? undefined : parseStep(flags.failAt, '--fail-at'),
  };
}

/** A lease shorter than a second would let recoverers take sagas that are merely slow. */
export function parseLease(raw: string): number {
  const ms = parseDuration(raw, '--lease');
  if (ms < 1000 || ms > 86_400_000) throw new UsageError(`--lease must be from 1s to 1d, got "${raw}".`);
  return ms;
}
