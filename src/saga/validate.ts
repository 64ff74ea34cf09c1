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
