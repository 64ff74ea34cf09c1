import { Chalk, type ChalkInstance } from 'chalk';
import { Io } from './io';
import { Cell, renderTable } from './table';
import { createProgress, Progress, ProgressOptions } from './progress';

/**
 * Where a command's words go: data on stdout (JSON with --json), diagnostics on stderr.
 * Colour only on a terminal and never with NO_COLOR (chalk alone does not honour it).
 * --quiet silences progress and info lines; data, warnings and errors are still printed.
 */
export interface Output {
  json: boolean;
  color: ChalkInstance;
  /** Prints `data` as JSON with --json, else calls `human` to print it for people. */
  result(data: unknown, human: () => void): void;
  print(text: string): void;
  info(text: string): void;
  warn(text: string): void;
  /** A table fitted to the width (module table.ts); `empty` is printed instead of a table with no rows. */
  table(head: string[], rows: Cell[][], opts?: { empty?: string; keep?: string[]; drop?: string[] }): void;
  /** Runs `work` with a progress display (module progress.ts), stopped however the work ends. */
  withProgress<T>(opts: ProgressOptions, work: (progress: Progress) => Promise<T>): Promise<T>;
}

export interface OutputFlags {
  json?: boolean;
  color?: boolean;
  quiet?: boolean;
  wide?: boolean;
  /** `-o wide`, the short spelling of --wide. */
  o?: string;
}

export function createOutput(io: Io, opts: OutputFlags): Output {
  const noColor = io.env.NO_COLOR !== undefined || opts.color === false || !io.stdoutIsTTY;
  const color = new Chalk({ level: noColor ? 0 : 1 });
  const width = tableWidth(io, opts);
  const out: Output = {
    json: Boolean(opts.json),
    color,
    result(data, human) {
      if (out.json) io.stdout.write(`${toJson(data)}\n`);
      else human();
    },
    print: (text) => void io.stdout.write(`${text}\n`),
    info: (text) => void (opts.quiet || io.stderr.write(`${text}\n`)),
    warn: (text) => void io.stderr.write(`${color.yellow('warning:')} ${text}\n`),
    table(head, rows, t = {}) {
      if (rows.length === 0) return out.print(t.empty ?? '(none)');
      out.print(renderTable(head, rows, { width, keep: t.keep, drop: t.drop, header: color.bold, rule: color.dim }));
    },
    async withProgress(p, work) {
      const progress = createProgress(io, p, { quiet: Boolean(opts.quiet) });
      try {
        return await work(progress);
      } finally {
        progress.stop();
      }
    },
  };
  return out;
}

/** `-o wide`: unbounded; else $COLUMNS when set (in a pipe too), else the terminal's width, else unbounded. */
export function tableWidth(io: Io, opts: OutputFlags): number | undefined {
  if (opts.wide || opts.o === 'wide') return undefined;
  const columns = Number(io.env.COLUMNS);
  if (Number.isInteger(columns) && columns > 0) return columns;
  return io.stdoutIsTTY ? io.stdoutColumns : undefined;
}

export function toJson(data: unknown): string {
  return JSON.stringify(data, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2);
}
