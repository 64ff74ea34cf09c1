import { bars, sparkline } from '../../src/cli/charts';
import { createOutput } from '../../src/cli/output';
import { histogram, percentile, prng, summarise } from '../../src/saga/load';
import { EventBus } from '../../src/saga/event-bus';
import { parsePurchase, parseLease } from '../../src/saga/validate';
import { planFor } from '../../src/operator/plan';
import { localPid, whyStuck } from '../../src/operator/stuck';
import { actionFor } from '../../src/operator/recover';
import { forwardSql, compensationSql, messageOf } from '../../src/saga/statements';
import { SEND_NOTIFICATION, VALIDATE_USER } from '../../src/saga/steps';

test('percentiles and the latency summary', () => {
  const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
  expect(percentile(sorted, 50)).toBe(50);
  expect(percentile(sorted, 99)).toBe(99);
  expect(percentile([], 50)).toBe(0);
  expect(summarise([3, 1, 2])).toEqual({ p50: 2, p95: 3, p99: 3, max: 3 });
});

test('the histogram doubles its buckets and trims empty ends; huge values land in the last', () => {
  expect(histogram([0.4, 0.9, 1.5, 3])).toEqual([
    { upToMs: 0.5, count: 1 }, { upToMs: 1, count: 1 }, { upToMs: 2, count: 1 }, { upToMs: 4, count: 1 }]);
  expect(histogram([])).toEqual([]);
  expect(histogram([10 ** 9]).at(-1)?.count).toBe(1);
});

test('the seeded PRNG repeats itself for the same seed', () => {
  const a = prng(42);
  const b = prng(42);
  const xs = Array.from({ length: 5 }, () => a());
  expect(xs).toEqual(Array.from({ length: 5 }, () => b()));
  expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  expect(prng(43)()).not.toBe(xs[0]);
});

test('charts draw proportional bars and a sparkline', () => {
  expect(bars([{ label: 'a', value: 2 }, { label: 'bb', value: 4 }], 4)).toEqual([' a │██ 2', 'bb │████ 4']);
  expect(sparkline([0, 4, 8])).toBe('▁▄█');
});

test('NO_COLOR turns colour off, even on a terminal', () => {
  const io = { stdout: { write: () => true }, stderr: { write: () => true }, env: { NO_COLOR: '1' }, cwd: '/',
    stdinIsTTY: false, stdoutIsTTY: true, stderrIsTTY: true };
  expect(createOutput(io, {}).color.red('x')).toBe('x');
  expect(createOutput({ ...io, env: {} }, {}).color.red('x')).not.toBe('x');
});

test('the event bus delivers to the one handler of a type and refuses a second', async () => {
  const bus = new EventBus<string>();
  bus.subscribe('a.run', async (e) => `got ${e.id}`);
  expect(await bus.publish({ id: '1', type: 'a.run', transactionId: 't' })).toBe('got 1');
  expect(await bus.publish({ id: '2', type: 'nobody', transactionId: 't' })).toBeUndefined();
  expect(() => bus.subscribe('a.run', async () => 'x')).toThrow(/exists already/);
});

test('purchase requests are validated before anything runs', () => {
  expect(parsePurchase({ user: 'u-1', item: 'i-1' })).toEqual({ userId: 'u-1', itemId: 'i-1', quantity: 1, mode: 'orchestration', transactionId: undefined, failAt: undefined });
  expect(() => parsePurchase({ user: 'u', item: 'i', qty: '10001' })).toThrow(/--qty/);
  expect(() => parseLease('500ms')).toThrow(/--lease/);
  expect(parseLease('2m')).toBe(120_000);
});

test('statements: notification never compensates; only steps with an undo have a compensation statement', () => {
  expect(forwardSql(SEND_NOTIFICATION)).toContain("'completed'");
  expect(() => compensationSql(SEND_NOTIFICATION)).toThrow(/no compensation/);
  expect(compensationSql(VALIDATE_USER)).toContain("'compensated'");
  expect(messageOf('code')).toContain("WHEN 'INSUFFICIENT_STOCK' THEN 'Insufficient stock'");
});

describe('operator decisions', () => {
  const facts = { transactionId: 't', status: 'in_progress', mode: 'orchestration', userId: 'u', itemId: 'i', quantity: 2,
    total: '40.00', leaseOwner: 'elsewhere:1:r', expired: true, committed: ['validate_user', 'reserve_inventory'] as never[], compensated: [] as never[] };
  test('a plan undoes the committed steps newest first, with exact amounts', () => {
    expect(planFor('t', facts, false).undo.map((u) => u.action)).toEqual(['restock 2 i', 'refund 40.00 to u']);
    expect(planFor('t', undefined, false)).toMatchObject({ found: false, refusal: 'not found' });
    expect(planFor('t', { ...facts, status: 'completed' }, false).refusal).toMatch(/include-completed/);
    expect(planFor('t', { ...facts, expired: false }, false).refusal).toMatch(/busy/);
    expect(planFor('t', { ...facts, status: 'failed' }, false).refusal).toMatch(/nothing to undo/);
  });
  test('owners on this host are read from host:pid:run', () => {
    expect(localPid(`myhost:123:abc`, 'myhost')).toBe(123);
    expect(localPid(`other:123:abc`, 'myhost')).toBeUndefined();
    expect(localPid(null)).toBeUndefined();
    expect(localPid('garbage')).toBeUndefined();
    expect(whyStuck('in_progress', null, true)).toBe('no owner');
    expect(whyStuck('compensation_failed', 'x:1:y', false)).toMatch(/operator/);
  });
  test('recover compensates what was compensating, whatever the strategy', () => {
    expect(actionFor({ status: 'compensating', mode: 'orchestration' }, 'resume')).toBe('continue compensating');
    expect(actionFor({ status: 'in_progress', mode: 'orchestration' }, 'compensate')).toBe('compensate');
    expect(actionFor({ status: 'in_progress', mode: 'choreography' })).toMatch(/redeliver/);
    expect(actionFor({ status: 'pending', mode: 'orchestration' })).toMatch(/mark failed/);
  });
});
