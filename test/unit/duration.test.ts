import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { parseDuration, parseInstant, parseIntOption } from '../../src/duration';
import { UsageError } from '../../src/errors';

const ROOT = path.resolve(__dirname, '..', '..');

describe('durations', () => {
  test.each([
    ['500ms', 500], ['30s', 30_000], ['15m', 900_000], ['2h', 7_200_000], ['1d', 86_400_000],
    ['60', 60_000], ['1.5h', 5_400_000], ['0.5s', 500], [' 30s ', 30_000], ['0', 0], ['3650d', 3650 * 86_400_000],
  ])('%j is %d ms', (raw, ms) => {
    expect(parseDuration(raw, '--x')).toBe(ms);
  });

  test.each(['', 'soon', '-5m', '5 m', '1y', '5M', '1.s', '.5s', 's', '1e3', '0x10', '3651d', '99999999999999999999d'])('%j is refused naming the option', (raw) => {
    expect(() => parseDuration(raw, '--lock-timeout')).toThrow(UsageError);
    expect(() => parseDuration(raw, '--lock-timeout')).toThrow(/--lock-timeout/);
  });
});

describe('whole numbers within bounds', () => {
  test('accepts the bounds and what lies between', () => {
    expect(parseIntOption('1', 'x', 1, 10)).toBe(1);
    expect(parseIntOption('10', 'x', 1, 10)).toBe(10);
    expect(parseIntOption('007', 'x', 1, 10)).toBe(7);
    expect(parseIntOption('-3', 'x', -5, 10)).toBe(-3);
  });

  test.each(['0', '11', 'abc', '1.5', '', '-1', '1e1', '+5', '0x5', '5abc'])('%j is refused with the range in the message', (raw) => {
    expect(() => parseIntOption(raw, '--n', 1, 10)).toThrow(new UsageError(`--n must be a whole number from 1 to 10, got "${raw}".`));
  });
});

describe('instants', () => {
  const now = Date.parse('2026-11-24T12:00:00Z');

  test('a duration ago', () => {
    expect(parseInstant('15m', 'x', now).toISOString()).toBe('2026-11-24T11:45:00.000Z');
    expect(parseInstant('2d', 'x', now).toISOString()).toBe('2026-11-22T12:00:00.000Z');
  });

  test.each([
    ['2026-11-01', '2026-11-01T00:00:00.000Z'],
    ['2026-11-01T10:00:00Z', '2026-11-01T10:00:00.000Z'],
    ['2026-11-01T10:00', '2026-11-01T10:00:00.000Z'],
    ['2026-11-01 10:00:00', '2026-11-01T10:00:00.000Z'],
    ['2026-11-01T10:00:00.25Z', '2026-11-01T10:00:00.250Z'],
    ['2026-11-01T10:00:00+02:00', '2026-11-01T08:00:00.000Z'],
    ['2026-11-01T10:00:00+0200', '2026-11-01T08:00:00.000Z'],
    ['2026-11-01T10:00:00-05:30', '2026-11-01T15:30:00.000Z'],
    ['2024-02-29', '2024-02-29T00:00:00.000Z'],
  ])('%s is %s', (raw, iso) => {
    expect(parseInstant(raw, 'x', now).toISOString()).toBe(iso);
  });

  test('a time without a zone is UTC whatever the machine is set to (the build, run under other zones)', () => {
    // jest's process.env is a copy, so the zone is changed in a child process running the build.
    const script = `const { parseInstant } = require(${JSON.stringify(path.join(ROOT, 'dist/src/duration.js'))});
      console.log(JSON.stringify([new Date(2026, 10, 1).getTimezoneOffset(),
        parseInstant('2026-11-01T10:00', 'x').toISOString(), parseInstant('2026-11-01', 'x').toISOString()]));`;
    for (const tz of ['Asia/Tokyo', 'America/New_York']) {
      const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { env: { ...process.env, TZ: tz }, encoding: 'utf8' }));
      expect(out[0]).not.toBe(0); // the zone really is another one
      expect(out.slice(1)).toEqual(['2026-11-01T10:00:00.000Z', '2026-11-01T00:00:00.000Z']);
    }
  });

  test.each(['yesterday', '2026-13-45', '2026-02-30', '2025-02-29', '2026-04-31', '2026-00-10', '2026-11-00',
    '2026-11-01T25:00:00Z', '2026-11-01T24:00', '2026-11-01T10:60', '2026-11-01T10', '2026-11-01T10:00:00+25:00', '26-11-01', '-15m'])(
    '%s is refused', (raw) => {
      expect(() => parseInstant(raw, '--since', now)).toThrow(/^--since must be an ISO-8601 time/);
    });
});
