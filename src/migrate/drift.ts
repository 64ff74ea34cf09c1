import type { ClientBase } from 'pg';
import { AppError, EXIT, UsageError } from '../errors';
import { databaseError } from '../db/pg-errors';
import { Db } from '../db/pool';
import { maskUrl } from '../config';
import type { Migration } from './loader';
import { readHistory } from './history';
import { applyMigration } from './apply';
import { readSchema, SchemaSnapshot } from './schema';
import { diffSchemas, SchemaDifference } from './schema-diff';
import { withScratchDatabase } from './scratch';
import { readTypeormHistory, TYPEORM_TABLE } from './typeorm-history';

type Queryable = Pick<ClientBase, 'query'>;

export interface DriftOptions {
  /** The server to build the scratch database on (default: the migrated database's own server). */
  scratchUrl?: string;
  log: (line: string) => void;
}

export interface DriftReport {
  ok: boolean;
  /** The applied migrations whose schema the database was compared with. */
  basedOn: string[];
  /** Applied migrations with no file: what they made shows as extra. */
  missingFiles: string[];
  differences: SchemaDifference[];
  sql: string[];
  scratchServer: string;
}

/** Tables that only record history: never drift. TypeORM's counts only when it is TypeORM's. */
export async function historyTables(db: Queryable): Promise<string[]> {
  return ['sagactl_migrations', ...((await readTypeormHistory(db)) ? [TYPEORM_TABLE] : [])];
}

export async function currentSchema(db: Queryable): Promise<string> {
  return (await db.query('SELECT current_schema() AS s')).rows[0].s ?? 'public';
}

/**
 * What `migrations` produce on an empty database: built in a scratch database and read. When `live`
 * is given, a CHECK whose text differs from the migrations' only as the server prints it (a
 * constraint made again from its printed form reads back differently) is compared by meaning.
 */
/** The server a scratch database is made on: --scratch-url, else the one migrated (unknown on an application's pool). */
export function scratchServerOf(db: Db, scratchUrl?: string): string {
  const url = scratchUrl ?? db.url;
  if (!url) throw new UsageError('A scratch database is needed and this connection has no URL to make one from.', 'Give --scratch-url (or scratchUrl).');
  return url;
}

export async function expectedSchema(serverUrl: string, schema: string, migrations: Migration[], ignore: string[],
  live?: SchemaSnapshot): Promise<SchemaSnapshot> {
  return withScratchDatabase(serverUrl, schema, async (client) => {
    for (const m of migrations) {
      try {
        await applyMigration(client, m, 'up', { ddlLockTimeoutMs: 0, ddlRetries: 0, record: false, log: () => undefined });
      } catch (err) {
        const cause = (err as Error).message;
        throw new AppError(`Building the applied migrations in a scratch database on ${maskUrl(serverUrl)} failed: ${cause}`,
          (err instanceof AppError ? err : databaseError(err))?.exitCode ?? EXIT.internal,
          'A migration that depends on something outside the database (a role, an extension) needs a scratch server that has it: --scratch-url.');
      }
    }
    const expected = await readSchema(client, schema, ignore);
    if (live) await alignEquivalentChecks(client, expected, live);
    return expected;
  });
}

/** The server's own printing of a CHECK, read back after adding it (NOT VALID, rolled back) to the scratch table. */
async function printedCheck(client: Queryable, table: string, definition: string): Promise<string> {
  await client.query('BEGIN');
  try {
    // Both texts were printed by a server's catalog (pg_get_constraintdef), never typed by a user.
    await client.query(`ALTER TABLE ${table} ADD CONSTRAINT sagactl_printed ${definition.replace(/ NOT VALID$/, '')} NOT VALID`);
    const { rows } = await client.query(
      `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = 'sagactl_printed' AND conrelid = $1::regclass`, [table]);
    return rows[0].def;
  } finally {
    await client.query('ROLLBACK');
  }
}

async function alignEquivalentChecks(client: Queryable, expected: SchemaSnapshot, live: SchemaSnapshot): Promise<void> {
  for (const [key, want] of expected) {
    const have = live.get(key);
    if (want.kind !== 'constraint' || !have || have.definition === want.definition || !want.definition.startsWith('CHECK')) continue;
    if (want.definition.endsWith(' NOT VALID') !== have.definition.endsWith(' NOT VALID')) continue;
    const same = await printedCheck(client, want.table!, want.definition).then(async (a) => a === await printedCheck(client, want.table!, have.definition))
      .catch(() => false);
    if (same) live.set(key, { ...have, definition: want.definition });
  }
}

/**
 * Compares the live schema with what its applied migrations produce, built from the same files in a
 * scratch database: a column added by hand, an index dropped, a CHECK removed, or the objects of a
 * migration whose file was deleted all show, with the SQL that would undo them.
 */
export async function checkDrift(db: Db, migrations: Migration[], opts: DriftOptions): Promise<DriftReport> {
  const client = await db.pool.connect();
  let live: SchemaSnapshot;
  let schema: string;
  let ignore: string[];
  let applied: Set<string>;
  try {
    applied = new Set((await readHistory(client)).map((h) => h.name));
    schema = await currentSchema(client);
    ignore = await historyTables(client);
    live = await readSchema(client, schema, ignore);
  } finally {
    client.release();
  }
  const built = migrations.filter((m) => applied.has(m.name));
  const files = new Set(migrations.map((m) => m.name));
  const scratchServer = scratchServerOf(db, opts.scratchUrl);
  const shown = maskUrl(opts.scratchUrl ?? db.label ?? scratchServer);
  opts.log(`checking the schema against ${built.length} applied migration(s), built in a scratch database on ${shown}`);
  const expected = await expectedSchema(scratchServer, schema, built, ignore, live);
  const { differences, sql } = diffSchemas(expected, live);
  const missingFiles = [...applied].filter((n) => !files.has(n)).sort();
  return {
    ok: differences.length === 0 && missingFiles.length === 0,
    basedOn: built.map((m) => m.name),
    missingFiles,
    differences,
    sql,
    scratchServer: shown,
  };
}
