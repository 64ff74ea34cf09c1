import { GenerateOptions, itemLine, parseGenerateOptions, sagaId, sagaLine } from '../../src/seed/generate';
import { UsageError } from '../../src/errors';

const END = Date.parse('2026-11-24T12:00:00Z');
const opts: GenerateOptions = { users: 0, items: 0, seed: 7, sagas: 20_000, days: 30, endMs: END };
const fields = (line: string) => line.replace(/\n$/, '').split('\t');
const micros = (text: string) => Date.parse(`${text.slice(0, 23)}Z`) * 1000 + Number(text.slice(23, 26));

describe('generated sagas: row k is a pure function of (seed, k) and the window', () => {
  test('the same options give the same rows; another seed other rows', () => {
    const rows = (o: GenerateOptions) => Array.from({ length: 200 }, (_, i) => sagaLine(o, i + 1)).join('');
    expect(rows(opts)).toBe(rows({ ...opts }));
    expect(rows(opts)).not.toBe(rows({ ...opts, seed: 8 }));
    expect(sagaId(42)).toBe('gen-saga-0000000042');
  });

  test('COPY text: 14 columns, \\N for NULL, the price of the generated item of the same seed', () => {
    for (let k = 1; k <= 500; k++) {
      const f = fields(sagaLine(opts, k));
      expect(f).toHaveLength(14);
      const [id, status, user, item, qty, price, mode, created, updated, completed, code, message, owner, lease] = f;
      expect(id).toBe(sagaId(k));
      expect(user).toMatch(/^gen-user-\d{7}$/);
      expect(Number(user.slice(9))).toBeLessThanOrEqual(1000);
      expect(item).toMatch(/^gen-item-\d{6}$/);
      expect(price).toBe(fields(itemLine(opts, Number(item.slice(9))))[2]);
      expect(Number(qty)).toBeGreaterThanOrEqual(1);
      expect(['orchestration', 'choreography']).toContain(mode);
      expect(created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
      expect(micros(updated)).toBeGreaterThanOrEqual(micros(created));
      if (status === 'completed') {
        expect(micros(completed) - micros(created)).toBeGreaterThanOrEqual(1_500);
        expect(micros(completed) - micros(created)).toBeLessThanOrEqual(3_000_000);
        expect([code, message]).toEqual(['\\N', '\\N']);
      } else {
        expect(completed).toBe('\\N');
      }
      if (['pending', 'in_progress', 'compensating'].includes(status)) {
        expect(owner).toBe('generated');
        expect(micros(lease.slice(0, -1)) - micros(created)).toBe(30_000_000);
      } else {
        expect([owner, lease]).toEqual(['\\N', '\\N']);
      }
    }
  });

  test('spread over the window in k order, the last one before --end', () => {
    const created = (k: number) => micros(fields(sagaLine(opts, k))[7]);
    const start = (END - 30 * 86_400_000) * 1000;
    expect(created(1)).toBeGreaterThanOrEqual(start);
    expect(created(20_000)).toBeLessThan(END * 1000);
    for (let k = 2; k <= 20_000; k += 97) expect(created(k)).toBeGreaterThan(created(k - 1));
  });

  test('a realistic mix: ~90% completed, validate_user codes on failed, reserve_inventory codes on compensated', () => {
    const byStatus = new Map<string, number>();
    const codes = new Map<string, Set<string>>();
    let choreography = 0;
    for (let k = 1; k <= 20_000; k++) {
      const f = fields(sagaLine(opts, k));
      byStatus.set(f[1], (byStatus.get(f[1]) ?? 0) + 1);
      codes.set(f[1], (codes.get(f[1]) ?? new Set()).add(f[10]));
      if (f[6] === 'choreography') choreography++;
    }
    const share = (s: string) => (byStatus.get(s) ?? 0) / 20_000;
    expect(share('completed')).toBeCloseTo(0.9, 1);
    expect(share('failed')).toBeCloseTo(0.055, 2);
    expect(share('compensated')).toBeCloseTo(0.043, 2);
    expect(share('compensation_failed')).toBeGreaterThan(0);
    expect(share('in_progress') + share('pending') + share('compensating')).toBeGreaterThan(0);
    expect(choreography / 20_000).toBeCloseTo(0.3, 1);
    expect([...codes.get('failed')!].sort()).toEqual(['INSUFFICIENT_BALANCE', 'PURCHASE_LIMIT_EXCEEDED', 'USER_NOT_ACTIVE']);
    expect([...codes.get('compensated')!].sort()).toEqual(['INSUFFICIENT_STOCK', 'ITEM_NOT_AVAILABLE']);
    expect([...codes.get('compensation_failed')!]).toEqual(['COMPENSATION_FAILED']);
  });

  test('users and items come from the generated ones when --users/--items are given', () => {
    for (let k = 1; k <= 300; k++) {
      const f = fields(sagaLine({ ...opts, users: 5, items: 3 }, k));
      expect(Number(f[2].slice(9))).toBeLessThanOrEqual(5);
      expect(Number(f[3].slice(9))).toBeLessThanOrEqual(3);
    }
  });
});

describe('--sagas, --days, --end', () => {
  test('parsed; --end defaults to this minute; --users/--items parse as before', () => {
    expect(parseGenerateOptions({ sagas: '10', days: '2', end: '2026-11-24T12:00:00Z' }))
      .toEqual({ users: 0, items: 0, seed: 1, sagas: 10, days: 2, endMs: END });
    const now = parseGenerateOptions({ sagas: '1' });
    expect(now.days).toBe(30);
    expect(now.endMs! % 60_000).toBe(0);
    expect(Math.abs(now.endMs! - Date.now())).toBeLessThan(61_000);
    expect(parseGenerateOptions({ users: '3' })).toEqual({ users: 3, items: 0, seed: 1 });
    expect('sagas' in parseGenerateOptions({ users: '3' })).toBe(false);
  });

  test.each([
    [{ sagas: 'x' }, '--sagas'], [{ sagas: '-1' }, '--sagas'], [{ sagas: '100000001' }, '--sagas'], [{ sagas: '0' }, 'Nothing to generate'],
    [{ sagas: '5', days: '0' }, '--days'], [{ sagas: '5', days: '1.5' }, '--days'], [{ sagas: '5', end: 'yesterday' }, '--end'],
    [{ users: '5', days: '3' }, 'give --sagas'], [{ users: '5', end: '1h' }, 'give --sagas'],
  ])('%j is a usage error naming %s', (flags, names) => {
    expect(() => parseGenerateOptions(flags)).toThrow(UsageError);
    expect(() => parseGenerateOptions(flags)).toThrow(names);
  });
});
