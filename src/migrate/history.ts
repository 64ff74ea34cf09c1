import os from 'node:os';
import type { ClientBase } from 'pg';

/**
 * sagactl's own migration history: what ran, its checksum, when, how long, and by whom.
 * Created by the runner under the migration lock, never by a migration.
 */
export const HISTORY_TABLE_SQL = `CREATE TABLE IF NOT EXISTS sagactl_migrations (
  name             text PRIMARY KEY,
  checksum         char(64) NOT NULL,
  transactional    boolean NOT NULL,
  applied_at       timestamptz NOT NULL DEFAULT now(),
  duration_ms      integer NOT NULL,
  applied_by       text NOT NULL,
  host             text NOT NULL,
  application_name text NOT NULL
)`;

export const INSERT_HISTORY_SQL = `INSERT INTO sagactl_migrations
  (name, checksum, transactional, duration_ms, applied_by, host, application_name)
VALUES ($1, $2, $3, $4, $5, $6, current_setting('application_name'))`;

export const DELETE_HISTORY_SQL = 'DELETE FROM sagactl_migrations WHERE name = $1';

export interface AppliedMigration {
  name: string;
  checksum: string;
  appliedAt: Date;
  durationMs: number;
  appliedBy: string;
  host: string;
  applicationName: string;
}

type Queryable = Pick<ClientBase, 'query'>;

export async function historyExists(db: Queryable): Promise<boolean> {
  const { rows } = await db.query(`SELECT to_regclass('sagactl_migrations') IS NOT NULL AS found`);
  return rows[0].found;
}

export async function readHistory(db: Queryable): Promise<AppliedMigration[]> {
  if (!(await historyExists(db))) return [];
  const { rows } = await db.query(
    `SELECT name, checksum, applied_at AS "appliedAt", duration_ms AS "durationMs",
            applied_by AS "appliedBy", host, application_name AS "applicationName"
       FROM sagactl_migrations ORDER BY name`,
  );
  return rows;
}

export function historyParams(name: string, checksum: string, transactional: boolean, durationMs: number): unknown[] {
  return [name, checksum, transactional, durationMs, os.userInfo().username, os.hostname()];
}
