import Table from 'cli-table3';

export type Cell = string | number | null | undefined;

export interface TableLayout {
  /** The width to fit, in columns; undefined: as wide as the cells (a file, a pipe without COLUMNS, -o wide). */
  width?: number;
  /** Columns (by header) that keep their full width, ids first of all: a truncated id cannot be pasted into the next command. */
  keep?: string[];
  /** Columns (by header) left out, first ones first, when the table cannot fit even with every column cut down. */
  drop?: string[];
  /** Applied to the header and its underline (bold and dim on a terminal). */
  header?: (text: string) => string;
  rule?: (text: string) => string;
}

const GAP = 2;
/** A shrunk column keeps at least this much (or its own width if smaller): "compens…" still says something. */
const FLOOR = 8;
/** Columns are left out (see `drop`) until the others fit with at least this much each. */
const COMFORT = 12;
const ANSI = /\x1b\[[0-9;]*m/g;

const visibleWidth = (text: string) => [...text.replace(ANSI, '')].length;

const NUMBER = /^-?[\d,]+(\.\d+)?%?$/;

/** A column of numbers (blanks allowed) is right-aligned, so digits line up. */
function isNumeric(body: string[][], column: number): boolean {
  const cells = body.map((r) => r[column].replace(ANSI, '')).filter((c) => c !== '' && c !== '-' && c !== '?');
  return cells.length > 0 && cells.every((c) => NUMBER.test(c));
}

const fit = (text: string, width?: number) => (width === undefined || text.length <= width ? text : `${text.slice(0, width - 1)}…`);

/** One line per cell: a query or message with line breaks would break the row apart. */
const oneLine = (cell: Cell) => (cell === null || cell === undefined ? '' : String(cell).replace(/\s*\n\s*/g, ' '));

/**
 * Each column's width: as wide as its widest cell, then, if the table is wider than `width`, the
 * widest columns not kept are narrowed first (water-filling) until it fits or all are at FLOOR.
 */
export function columnWidths(natural: number[], kept: boolean[], width?: number): number[] {
  const fixed = natural.reduce((sum, w, i) => sum + (kept[i] ? w : 0), 0) + GAP * (natural.length - 1);
  const total = (level: number) => fixed + natural.reduce((sum, w, i) => sum + (kept[i] ? 0 : Math.min(w, Math.max(level, FLOOR))), 0);
  const widest = Math.max(0, ...natural);
  if (width === undefined || total(widest) <= width) return natural;
  let level = FLOOR;
  for (let lo = FLOOR, hi = widest; lo <= hi;) {
    const mid = Math.floor((lo + hi) / 2);
    if (total(mid) <= width) {
      level = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return natural.map((w, i) => (kept[i] ? w : Math.min(w, Math.max(level, FLOOR))));
}

/** Which columns to show: all, or, when the table would be cut below COMFORT, all but the first few of `drop`. */
export function visibleColumns(head: string[], natural: number[], kept: boolean[], drop: string[], width?: number): number[] {
  const shown = head.map((_h, i) => i);
  const minimum = (cols: number[]) => cols.reduce((sum, i) => sum + (kept[i] ? natural[i] : Math.min(natural[i], COMFORT)), 0) + GAP * (cols.length - 1);
  for (const name of drop) {
    if (width === undefined || minimum(shown) <= width) break;
    const at = shown.indexOf(head.indexOf(name));
    if (at >= 0) shown.splice(at, 1);
  }
  return shown;
}

/**
 * A borderless table: a header, a rule under it, one line per row, cells cut with … to fit, and
 * a last line naming the columns left out, if any.
 */
export function renderTable(head: string[], rows: Cell[][], layout: TableLayout = {}): string {
  const body = rows.map((row) => head.map((_h, i) => oneLine(row[i])));
  const natural = head.map((h, i) => Math.max(visibleWidth(h), ...body.map((r) => visibleWidth(r[i]))));
  const kept = head.map((h, i) => i === 0 || (layout.keep ?? []).includes(h));
  const shown = visibleColumns(head, natural, kept, layout.drop ?? [], layout.width);
  const widths = columnWidths(shown.map((i) => natural[i]), shown.map((i) => kept[i]), layout.width);
  const style = (f: ((t: string) => string) | undefined, t: string) => (f ? f(t) : t);
  // The header is a row like the others, so it takes its column's alignment.
  const table = new Table({
    colWidths: widths,
    colAligns: shown.map((i) => (isNumeric(body, i) ? 'right' : 'left')),
    wordWrap: false,
    truncate: '…',
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: ' '.repeat(GAP),
    },
    style: { 'padding-left': 0, 'padding-right': 0, head: [], border: [] },
  });
  table.push(shown.map((i) => style(layout.header, head[i])), widths.map((w) => style(layout.rule, '─'.repeat(w))),
    ...body.map((r) => shown.map((i) => r[i])));
  const lines = table.toString().split('\n').map((line) => line.trimEnd());
  const hidden = head.filter((_h, i) => !shown.includes(i));
  if (hidden.length > 0) lines.push(style(layout.rule, fit(`(not shown: ${hidden.join(', ')}; -o wide shows all)`, layout.width)));
  return lines.join('\n');
}
