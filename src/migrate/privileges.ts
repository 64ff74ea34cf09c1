import type { ClientBase } from 'pg';
import { AppError, EXIT } from '../errors';

type Queryable = Pick<ClientBase, 'query'>;

/**
 * Refuses, before anything is applied, a role that could not finish: migrations create tables and
 * indexes in the current schema, and the runner writes its history. Failing on the first CREATE
 * instead would say "permission denied for schema public" and leave the reader to guess the grant.
 */
export async function assertCanMigrate(client: Queryable, direction: 'up' | 'down'): Promise<void> {
  const { rows } = await client.query(
    `SELECT current_user AS role, current_schema() AS schema,
            current_schema() IS NOT NULL AND has_schema_privilege(current_schema(), 'CREATE') AS "canCreate",
            to_regclass('sagactl_migrations') IS NULL
              OR has_table_privilege('sagactl_migrations', $1) AS "canRecord"`,
    [direction === 'up' ? 'INSERT' : 'DELETE']);
  const { role, schema, canCreate, canRecord } = rows[0];
  if (schema === null) {
    throw new AppError(`The role "${role}" has no schema to migrate: its search_path names none that exists. Nothing was applied.`,
      EXIT.unreachable, 'Create the schema, or set search_path for the role (ALTER ROLE ... SET search_path = ...).');
  }
  if (!canCreate) {
    throw new AppError(`The role "${role}" lacks the CREATE privilege on schema ${schema}, which migrations need to create ` +
      'tables, indexes and the migration history. Nothing was applied.', EXIT.unreachable,
      `Run as the role that owns the schema (the migrator), or grant it: GRANT CREATE ON SCHEMA ${schema} TO ${role};`);
  }
  if (!canRecord) {
    throw new AppError(`The role "${role}" lacks ${direction === 'up' ? 'INSERT' : 'DELETE'} on sagactl_migrations, the migration ` +
      'history. Nothing was applied.', EXIT.unreachable, 'Run as the role that created the history (the migrator).');
  }
}

/** The privilege a "permission denied" message says is missing, in words a grant can be written from. */
export function missingPrivilege(message: string): string | undefined {
  const owner = /must be owner of (\w+(?: \w+)?) (\S+)/.exec(message);
  if (owner) return `ownership of ${owner[1]} ${owner[2]}`;
  const schema = /permission denied for schema (\S+)/.exec(message);
  if (schema) return `CREATE (or USAGE) on schema ${schema[1]}`;
  const object = /permission denied for (table|sequence|function|relation|database|type) (\S+)/.exec(message);
  if (object) return `a privilege on ${object[1]} ${object[2]}`;
  return undefined;
}
