import { amountOfCents, draw, GenerateOptions, itemId, itemLine, parseGenerateOptions, userId, userLine } from '../../src/seed/generate';
import { UsageError } from '../../src/errors';

const opts: GenerateOptions = { users: 10, items: 5, seed: 42 };

describe('row k is a pure function of (seed, k)', () => {
  test('the same seed gives the same rows, call after call', () => {
    const rows = (o: GenerateOptions) => Array.from({ length: 50 }, (_, i) => userLine(o, i + 1) + itemLine(o, i + 1)).join('');
    expect(rows(opts)).toBe(rows({ ...opts }));
    expect(rows(opts)).not.toBe(rows({ ...opts, seed: 43 }));
  });

  test('row k is the same whatever N', () => {
    for (const k of [1, 7, 5000, 5001]) {
      expect(userLine({ ...opts, users: 1_000_000 }, k)).toBe(userLine({ ...opts, users: k }, k));
      expect(itemLine({ ...opts, items: 9_999_999 }, k)).toBe(itemLine({ ...opts, items: k }, k));
    }
  });

  test('the rows of one seed differ from row to row, and are pinned (a change would reseed every data set)', () => {
    expect(new Set(Array.from({ length: 100 }, (_, i) => userLine(opts, i + 1).split('\t')[2])).size).toBeGreaterThan(90);
    expect(userLine(opts, 1)).toBe(userLine({ users: 1, items: 0, seed: 42 }, 1));
    expect([userLine(opts, 1), itemLine(opts, 1)]).toEqual(['gen-user-0000001\tUser 1\t21235.27\tactive\t0.00\n', 'gen-item-000001\tItem 1\t474.11\t73189\tt\n']);
  });

  test('the COPY text format: ids, names, money with two decimals, flags', () => {
    expect(userLine(opts, 7)).toMatch(/^gen-user-0000007\tUser 7\t\d{4,6}\.\d{2}\tactive\t0\.00\n$/);
    expect(itemLine(opts, 3)).toMatch(/^gen-item-000003\tItem 3\t\d{1,3}\.\d{2}\t\d{4,6}\tt\n$/);
    expect(userId(1)).toBe('gen-user-0000001');
    expect(itemId(123456)).toBe('gen-item-123456');
  });

  test('drawn values stay in their ranges: balance 1000.00-100000.00, price 1.00-500.00, stock 1000-100000', () => {
    for (let k = 1; k <= 2000; k++) {
      const [, , balance] = userLine(opts, k).split('\t');
      const [, , price, stock] = itemLine(opts, k).split('\t');
      const cents = (text: string) => Number(text.replace('.', ''));
      expect(cents(balance)).toBeGreaterThanOrEqual(100_000);
      expect(cents(balance)).toBeLessThanOrEqual(10_000_000);
      expect(cents(price)).toBeGreaterThanOrEqual(100);
      expect(cents(price)).toBeLessThanOrEqual(50_000);
      expect(Number(stock)).toBeGreaterThanOrEqual(1_000);
      expect(Number(stock)).toBeLessThanOrEqual(100_000);
    }
  });

  test('--balance and --stock replace the drawn values, and nothing else', () => {
    expect(userLine({ ...opts, balance: '250.00' }, 1)).toBe('gen-user-0000001\tUser 1\t250.00\tactive\t0.00\n');
    const drawn = itemLine(opts, 1).split('\t');
    expect(itemLine({ ...opts, stock: 0 }, 1)).toBe([drawn[0], drawn[1], drawn[2], '0', 't\n'].join('\t'));
  });
});

describe('money without floats', () => {
  test.each([[100_000, '1000.00'], [105, '1.05'], [7, '0.07'], [0, '0.00'], [10, '0.10'], [9_999_999_999, '99999999.99']])(
    '%d cents is %s', (cents, text) => {
      expect(amountOfCents(cents)).toBe(text);
    });

  test('draw gives whole numbers in [min, max], and hits both ends', () => {
    const seen = new Set<number>();
    for (let k = 1; k <= 5000; k++) {
      const v = draw(1, k, 1, 1, 10);
      expect(Number.isInteger(v) && v >= 1 && v <= 10).toBe(true);
      seen.add(v);
    }
    expect([...seen].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(draw(2_147_483_647, 100_000_000, 3, 5, 5)).toBe(5);
  });
});

describe('options', () => {
  test('parsed and normalised', () => {
    expect(parseGenerateOptions({ users: '3' })).toEqual({ users: 3, items: 0, seed: 1, balance: undefined, stock: undefined });
    expect(parseGenerateOptions({ items: '2', seed: '0', stock: '0' })).toEqual({ users: 0, items: 2, seed: 0, balance: undefined, stock: 0 });
    expect(parseGenerateOptions({ users: '1', balance: '12.5' }).balance).toBe('12.50');
    expect(parseGenerateOptions({ users: '1', balance: '007' }).balance).toBe('7.00');
    expect(parseGenerateOptions({ users: '1', balance: '0' }).balance).toBe('0.00');
    expect(parseGenerateOptions({ users: '1', balance: '99999999.99' }).balance).toBe('99999999.99');
  });

  test.each([
    [{ users: 'abc' }, '--users'], [{ items: '-5' }, '--items'], [{ users: '1', seed: 'x' }, '--seed'],
    [{ users: '1', seed: '-1' }, '--seed'], [{ users: '1', balance: '1.234' }, '--balance'], [{ users: '1', balance: '-1' }, '--balance'],
    [{ users: '1', balance: '1e3' }, '--balance'], [{ users: '1', balance: '100000000' }, '--balance'], [{ users: '1', balance: '.5' }, '--balance'],
    [{ users: '1', stock: '-1' }, '--stock'], [{ users: '1', stock: '1.5' }, '--stock'], [{ users: '100000001' }, '--users'],
    [{}, 'Nothing to generate'], [{ users: '0', items: '0' }, 'Nothing to generate'],
  ])('%j is a usage error naming %s', (flags, names) => {
    expect(() => parseGenerateOptions(flags)).toThrow(UsageError);
    expect(() => parseGenerateOptions(flags)).toThrow(names);
  });
});
