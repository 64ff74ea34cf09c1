import fs from 'node:fs';
import { SourceMap } from 'node:module';
import type { QueryRunner } from 'typeorm';
import type { Migration } from './loader';

export interface CapturedStatement {
  sql: string;
  params?: unknown[];
  /** The line of the migration's source that sent it (its `q.query(...)` call). */
  line?: number;
}

export interface Capture {
  statements: CapturedStatement[];
  /**
   * Set when the migration threw while being recorded: it reads the database to decide, and the
   * recorder answers every query with no rows, so what follows cannot be known without running it.
   */
  incomplete?: string;
}

/**
 * The SQL a migration sends, recorded by a query runner that executes nothing: every query answers
 * with no rows. Nothing a migration says reaches a database, so plan, lint and dry runs are free.
 */
export async function captureStatements(m: Migration, direction: 'up' | 'down'): Promise<Capture> {
  const statements: CapturedStatement[] = [];
  const recorder = {
    query: async (sql: string, params?: unknown[]) => {
      const line = callSite(m);
      statements.push({ sql, ...(params?.length ? { params } : {}), ...(line ? { line } : {}) });
      return [];
    },
  };
  try {
    await m.instance[direction](recorder as unknown as QueryRunner);
    return { statements };
  } catch (err) {
    return { statements, incomplete: err instanceof Error ? err.message : String(err) };
  }
}

const maps = new Map<string, SourceMap | null>();

/** The source line of the migration frame on the current stack, through the source map when compiled. */
function callSite(m: Migration): number | undefined {
  const frame = (new Error().stack ?? '').split('\n').find((l) => l.includes(`${m.codeFile}:`));
  const match = frame && /:(\d+):(\d+)\)?\s*$/.exec(frame);
  if (!match) return undefined;
  const [line, column] = [Number(match[1]), Number(match[2])];
  if (!m.codeFile.endsWith('.js')) return line;
  const map = sourceMapOf(m.codeFile);
  const entry = map?.findEntry(line - 1, column - 1) as { originalLine?: number } | undefined;
  return entry?.originalLine === undefined ? undefined : entry.originalLine + 1;
}

function sourceMapOf(file: string): SourceMap | null {
  if (!maps.has(file)) {
    const mapFile = `${file}.map`;
    maps.set(file, fs.existsSync(mapFile) ? new SourceMap(JSON.parse(fs.readFileSync(mapFile, 'utf8'))) : null);
  }
  return maps.get(file)!;
}
