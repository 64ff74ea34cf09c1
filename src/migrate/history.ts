import os from 'node:os';
import type { ClientBase } from 'pg';

/**
 * sagactl's own migration history: what ran, the checksums of its source and of the compiled file
 * that ran, when, how long, by whom, and whether it was adopted (baselined) rather than run.
 * Created by the runner under the migration lock, never by a migration.
 */
export const HISTORY_TABLE_SQL = `CREATE TABLE IF NOT EXISTS sagactl_migrations (
  name              text PRIMARY KEY,
  checksum          char(64) NOT NULL,
  transactional     boolean NOT NULL,
  applied_at        timestamptz NOT NULL DEFAULT now(),
  duration_ms       integer NOT NULL,
  applied_by        text NOT NULL,
  host              text NOT NULL,
  application_name  text NOT NULL,
  compiled_checksum char(64) NULL,
  baselined_from    text NULL
)`;

/** Columns added after the first release; a history table made before them gets them here. */
const LATER_COLUMNS = [
  ['compiled_checksum', 'ALTER TABLE sagactl_migrations ADD COLUMN IF NOT EXISTS compiled_checksum char(64) NULL'],
  ['baselined_from', 'ALTER TABLE sagactl_migrations ADD COLUMN IF NOT EXISTS baselined_from text NULL'],
] as const;

export const INSERT_HISTORY_SQL = `INSERT INTO sagactl_migrations
  (name, checksum, transactional, duration_ms, applied_by, host, compiled_checksum, baselined_from, application_name)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, current_setting('application_name'))`;

export const DELETE_HISTORY_SQL = 'DELETE FROM sagactl_migrations WHERE name = $1';

export interface AppliedMigration {
  name: string;
  checksum: string;
  compiledChecksum: string | null;
  appliedAt: Date;
  durationMs: number;
  appliedBy: string;
  host: string;
  applicationName: string;
  /** 'typeorm' or 'existing schema' when adopted by `migrate baseline`; null when sagactl ran it. */
  baselinedFrom: string | null;
}

type Queryable = Pick<ClientBase, 'query'>;

export async function historyExists(db: Queryable): Promise<boolean> {
  const { rows } = await db.query(`SELECT to_regclass('sagactl_migrations') IS NOT NULL AS found`);
  return rows[0].found;
}

/** Creates the history table, or adds the columns a table from an older sagactl lacks. */
export async function ensureHistory(db: Queryable): Promise<void> {
  if (!(await historyExists(db))) {
    await db.query(HISTORY_TABLE_SQL);
    return;
  }
  const { rows } = await db.query(
    `SELECT attname FROM pg_attribute WHERE attrelid = 'sagactl_migrations'::regclass AND attnum > 0 AND NOT attisdropped`);
  const have = new Set(rows.map((r: { attname: string }) => r.attname));
  for (const [column, sql] of LATER_COLUMNS) if (!have.has(column)) await db.query(sql);
}

/** Reads the history whatever sagactl version made the table (later columns read as null). */
export async function readHistory(db: Queryable): Promise<AppliedMigration[]> {
  if (!(await historyExists(db))) return [];
  const { rows } = await db.query(
    `SELECT name, checksum, applied_at AS "appliedAt", duration_ms AS "durationMs",
            applied_by AS "appliedBy", host, application_name AS "applicationName",
            to_jsonb(h) ->> 'compiled_checksum' AS "compiledChecksum", to_jsonb(h) ->> 'baselined_from' AS "baselinedFrom"
       FROM sagactl_migrations h ORDER BY name`,
  );
  return rows;
}

export interface HistoryEntry {
  name: string;
  checksum: string;
  compiledChecksum: string | null;
  transactional: boolean;
}

export function historyParams(m: HistoryEntry, durationMs: number, baselinedFrom: string | null = null): unknown[] {
  return [m.name, m.checksum, m.transactional, durationMs, os.userInfo().username, os.hostname(), m.compiledChecksum, baselinedFrom];
}
