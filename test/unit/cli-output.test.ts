import { columnWidths, renderTable, visibleColumns } from '../../src/cli/table';
import { createOutput, tableWidth } from '../../src/cli/output';
import { chooseFormat, parseWatch, shortDuration } from '../../src/cli/format';
import type { Io } from '../../src/cli/io';

function io(over: Partial<Io> = {}): Io & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: { NO_COLOR: '1' }, cwd: '/',
    stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: false, ...over, out: () => out, err: () => err,
  };
}

const widest = (text: string) => Math.max(...text.split('\n').map((l) => [...l].length));

describe('tables', () => {
  const head = ['transaction id', 'status', 'user', 'error'];
  const rows = [
    ['01a2337d-3544-7db3-a290-645316566517', 'compensated', 'user-123', 'INSUFFICIENT_STOCK: not enough items left in stock'],
    ['order-2', 'completed', 'user-4567890123', null],
  ];

  test('borderless: a header, one rule under it, one line per row; no rule between rows', () => {
    const text = renderTable(head, rows);
    const lines = text.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^transaction id +status +user +error$/);
    expect(lines[1]).toMatch(/^─+ {2}─+ {2}─+ {2}─+$/);
    expect(lines[2]).toContain('INSUFFICIENT_STOCK: not enough items left in stock');
    expect(lines[3]).toBe('order-2                               completed    user-4567890123');
    expect(text).not.toMatch(/[│┼├┤]/);
  });

  test('fitted to a width: the widest columns are cut with …, the id keeps its full width', () => {
    const text = renderTable(head, rows, { width: 80 });
    expect(widest(text)).toBeLessThanOrEqual(80);
    expect(text).toContain('01a2337d-3544-7db3-a290-645316566517');
    expect(text).toContain(' INSUFFICIENT…\n');
    expect(text).toMatch(/ user-4567890…$/); // the two widest cut to the same width
    expect(text).toContain('compensated'); // narrow enough already: not cut
  });

  test('kept columns never shrink; others stop at a floor, so a table too wide for the screen still reads', () => {
    expect(columnWidths([36, 11, 40], [true, true, false], 70)).toEqual([36, 11, 19]);
    expect(columnWidths([36, 11, 40], [true, false, false], 40)).toEqual([36, 8, 8]);
    expect(columnWidths([5, 5], [true, false], undefined)).toEqual([5, 5]);
    expect(columnWidths([5, 5], [true, false], 100)).toEqual([5, 5]);
  });

  test('when cutting is not enough, the columns named in drop go first, and a last line says which', () => {
    const natural = [36, 11, 15, 50];
    const kept = [true, true, false, false];
    expect(visibleColumns(head, natural, kept, ['user', 'error'], 200)).toEqual([0, 1, 2, 3]);
    expect(visibleColumns(head, natural, kept, ['user', 'error'], 70)).toEqual([0, 1, 3]);
    expect(visibleColumns(head, natural, kept, ['user', 'error'], 40)).toEqual([0, 1]);
    const text = renderTable(head, rows, { width: 60, keep: ['status'], drop: ['user', 'error'] });
    expect(text.split('\n')[0]).toMatch(/^transaction id +status$/);
    expect(text).toContain('(not shown: user, error; -o wide shows all)');
  });

  test('numbers are right-aligned, header included; a cell with line breaks stays on one line', () => {
    const text = renderTable(['status', 'sagas', 'note'], [['completed', '1,090', 'a\nb'], ['failed', '7', '']]);
    expect(text.split('\n')).toEqual(['status     sagas  note', '─────────  ─────  ────', 'completed  1,090  a b', 'failed         7']);
  });

  test('the width: -o wide (or --wide) is unbounded; else $COLUMNS, in a pipe too; else the terminal; else unbounded', () => {
    expect(tableWidth(io({ env: { COLUMNS: '100' } }), {})).toBe(100);
    expect(tableWidth(io({ env: { COLUMNS: '100' }, stdoutIsTTY: true, stdoutColumns: 120 }), {})).toBe(100);
    expect(tableWidth(io({ stdoutIsTTY: true, stdoutColumns: 120 }), {})).toBe(120);
    expect(tableWidth(io({ stdoutColumns: 120 }), {})).toBeUndefined();
    expect(tableWidth(io({ env: { COLUMNS: 'wide' } }), {})).toBeUndefined();
    expect(tableWidth(io({ env: { COLUMNS: '0' } }), {})).toBeUndefined();
    expect(tableWidth(io({ env: { COLUMNS: '80' } }), { o: 'wide' })).toBeUndefined();
    expect(tableWidth(io({ env: { COLUMNS: '80' } }), { wide: true })).toBeUndefined();
  });

  test('an empty result says so instead of drawing an empty frame', () => {
    const t = io();
    const out = createOutput(t, {});
    out.table(head, [], { empty: 'no sagas match' });
    out.table(head, []);
    expect(t.out()).toBe('no sagas match\n(none)\n');
  });

  test('--quiet silences info lines; data and warnings are still printed', () => {
    const t = io();
    const out = createOutput(t, { quiet: true });
    out.info('database: x');
    out.warn('careful');
    out.print('data');
    expect(t.err()).toBe('warning: careful\n');
    expect(t.out()).toBe('data\n');
  });
});

describe('one format vocabulary', () => {
  test('--format table|json|prometheus everywhere; --json means json; text is the old name of table', () => {
    expect(chooseFormat({})).toBe('table');
    expect(chooseFormat({ json: true })).toBe('json');
    expect(chooseFormat({ format: 'text' })).toBe('table');
    expect(chooseFormat({ format: 'json', json: true })).toBe('json');
    expect(chooseFormat({ format: 'prometheus' })).toBe('prometheus');
    expect(() => chooseFormat({ format: 'xml' })).toThrow('--format must be one of table, json, prometheus, got "xml".');
    expect(() => chooseFormat({ format: 'prometheus', json: true })).toThrow('--json and --format prometheus exclude each other.');
    expect(() => chooseFormat({ format: 'prometheus' }, ['table', 'json'])).toThrow('--format must be one of table, json');
  });

  test('--watch takes durations like every other duration flag; a bare number is seconds', () => {
    expect(parseWatch('5')).toBe(5000);
    expect(parseWatch('5s')).toBe(5000);
    expect(parseWatch('2m')).toBe(120_000);
    expect(parseWatch('1.5')).toBe(1500);
    for (const bad of ['0', '999ms', '25h', 'often', '-5s', '']) expect(() => parseWatch(bad)).toThrow(/--watch must be/);
  });

  test('short durations: ages, idle times, ETAs', () => {
    expect([0, 0.2, 59, 75, 3599, 3600, 5400, 86_400 + 7200].map(shortDuration)).toEqual(['0s', '1s', '59s', '1m15s', '59m59s', '1h00m', '1h30m', '1d2h']);
  });
});

test('processIo describes this process: its streams, terminals, width and the abort signal', () => {
  const { processIo } = require('../../src/cli/io') as typeof import('../../src/cli/io');
  const stop = new AbortController();
  const real = processIo(stop.signal);
  expect(real.stdout).toBe(process.stdout);
  expect(real.stderr).toBe(process.stderr);
  expect(real.env).toBe(process.env);
  expect(real.stdoutIsTTY).toBe(Boolean(process.stdout.isTTY));
  expect(real.stdoutColumns).toBe(process.stdout.isTTY ? process.stdout.columns : undefined);
  expect(real.signal).toBe(stop.signal);
});
