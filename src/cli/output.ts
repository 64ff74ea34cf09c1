import { Chalk, type ChalkInstance } from 'chalk';
import Table from 'cli-table3';
import { Io } from './io';

/**
 * Where a command's words go: data on stdout (JSON with --json), diagnostics on stderr.
 * Colour only on a terminal and never with NO_COLOR (chalk alone does not honour it).
 */
export interface Output {
  json: boolean;
  color: ChalkInstance;
  /** Prints `data` as JSON with --json, else calls `human` to print it for people. */
  result(data: unknown, human: () => void): void;
  print(text: string): void;
  info(text: string): void;
  warn(text: string): void;
  table(head: string[], rows: (string | number | null | undefined)[][]): void;
  /** A one-line progress display on stderr, only when stderr is a terminal. */
  progress(label: string, total: number): { tick(done: number): void; done(): void };
}

export function createOutput(io: Io, opts: { json?: boolean; color?: boolean }): Output {
  const noColor = io.env.NO_COLOR !== undefined || opts.color === false || !io.stdoutIsTTY;
  const color = new Chalk({ level: noColor ? 0 : 1 });
  const out: Output = {
    json: Boolean(opts.json),
    color,
    result(data, human) {
      if (out.json) io.stdout.write(`${toJson(data)}\n`);
      else human();
    },
    print: (text) => void io.stdout.write(`${text}\n`),
    info: (text) => void io.stderr.write(`${text}\n`),
    warn: (text) => void io.stderr.write(`${color.yellow('warning:')} ${text}\n`),
    table(head, rows) {
      const table = new Table({ head: head.map((h) => color.bold(h)), style: { head: [], border: [] } });
      table.push(...rows.map((r) => r.map((c) => (c === null || c === undefined ? '' : String(c)))));
      io.stdout.write(`${table.toString()}\n`);
    },
    progress: (label, total) => progressBar(io, label, total),
  };
  return out;
}

export function toJson(data: unknown): string {
  return JSON.stringify(data, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2);
}

function progressBar(io: Io, label: string, total: number) {
  const started = Date.now();
  let last = 0;
  const draw = (done: number) => {
    const width = 30;
    const ratio = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(ratio * width);
    const secs = (Date.now() - started) / 1000;
    const rate = secs > 0 ? Math.round(done / secs) : 0;
    io.stderr.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ` +
      `${(ratio * 100).toFixed(0).padStart(3)}% ${done}/${total} ${rate}/s `);
  };
  return {
    tick(done: number) {
      if (!io.stderrIsTTY || Date.now() - last < 100) return;
      last = Date.now();
      draw(done);
    },
    done() {
      if (!io.stderrIsTTY) return;
      draw(total);
      io.stderr.write('\n');
    },
  };
}
