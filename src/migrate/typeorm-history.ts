import type { ClientBase } from 'pg';
import type { Migration } from './loader';
import { AppliedMigration, readHistory } from './history';
import type { Db } from '../db/pool';

type Queryable = Pick<ClientBase, 'query'>;

/** TypeORM's runner records what it ran here (its default migrationsTableName), by class name. */
export const TYPEORM_TABLE = 'migrations';

/** The class names TypeORM's runner recorded, or null when its table is not there (or is not its table). */
export async function readTypeormHistory(db: Queryable): Promise<string[] | null> {
  const { rows } = await db.query(
    `SELECT count(*) FILTER (WHERE attname IN ('id', 'timestamp', 'name'))::int AS n
       FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`, [TYPEORM_TABLE]);
  if (rows[0].n !== 3) return null;
  // The table name is a constant of ours, never input.
  const names = await db.query(`SELECT name FROM ${TYPEORM_TABLE} ORDER BY "timestamp", id`);
  return names.rows.map((r: { name: string }) => r.name);
}

/**
 * What a database holds that sagactl did not record: migrations TypeORM's runner ran, or a schema
 * that predates sagactl (tables, no history). Either is adopted with `migrate baseline`.
 */
export interface Adoptable {
  from: 'typeorm' | 'existing schema';
  /** Our migrations TypeORM's runner recorded and sagactl did not (empty for an existing schema). */
  migrations: string[];
  command: string;
}

export async function findAdoptable(db: Queryable, history: AppliedMigration[], migrations: Migration[]): Promise<Adoptable | null> {
  const recorded = new Set(history.map((h) => h.name));
  const typeorm = await readTypeormHistory(db);
  if (typeorm) {
    const ran = new Set(typeorm);
    const adopt = migrations.filter((m) => ran.has(m.className) && !recorded.has(m.name)).map((m) => m.name);
    if (adopt.length > 0) return { from: 'typeorm', migrations: adopt, command: 'sagactl migrate baseline --yes' };
    return null;
  }
  if (history.length > 0) return null;
  const { rows } = await db.query(
    `SELECT count(*)::int AS n FROM pg_class c
      WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND c.relname <> 'sagactl_migrations'
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')`);
  if (rows[0].n === 0) return null;
  return { from: 'existing schema', migrations: [], command: 'sagactl migrate baseline --to <the newest migration it already has> --yes' };
}

export async function getAdoptable(db: Db, migrations: Migration[]): Promise<Adoptable | null> {
  const client = await db.pool.connect();
  try {
    return await findAdoptable(client, await readHistory(client), migrations);
  } finally {
    client.release();
  }
}
