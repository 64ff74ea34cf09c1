import { CheckFailedError, UsageError } from '../errors';
import { ensureHistory, historyParams, INSERT_HISTORY_SQL, readHistory } from './history';
import type { Migration } from './loader';
import { MigrateDeps, withMigrationClient } from './runner';
import { currentSchema, expectedSchema, historyTables, scratchServerOf } from './drift';
import { readSchema } from './schema';
import { describeDifference, diffSchemas, SchemaDifference } from './schema-diff';
import { readTypeormHistory } from './typeorm-history';
import { assertCanMigrate } from './privileges';

export interface BaselineOptions {
  /** Adopt every migration up to and including this one (default: those TypeORM's runner recorded). */
  to?: string;
  scratchUrl?: string;
}

export interface BaselineResult {
  recorded: { name: string; from: string }[];
  /** Where the database is not exactly what the adopted migrations make (extra or changed objects). */
  differences: SchemaDifference[];
}

function choose(migrations: Migration[], recorded: Set<string>, typeorm: string[] | null, to?: string): { chosen: Migration[]; from: string } {
  if (to !== undefined) {
    if (!migrations.some((m) => m.name === to)) {
      throw new UsageError(`--to names no migration: "${to}".`, `Known migrations: ${migrations.map((m) => m.name).join(', ')}`);
    }
    const chosen = migrations.filter((m) => m.name <= to && !recorded.has(m.name));
    const byTypeorm = typeorm !== null && chosen.every((m) => typeorm.includes(m.className));
    return { chosen, from: byTypeorm ? 'typeorm' : 'existing schema' };
  }
  if (typeorm === null) {
    throw new UsageError('Nothing records which migrations this schema already has (no TypeORM "migrations" table).',
      'Name the newest migration whose objects it has: `sagactl migrate baseline --to NAME` (see `sagactl migrate status` for the names).');
  }
  return { chosen: migrations.filter((m) => typeorm.includes(m.className) && !recorded.has(m.name)), from: 'typeorm' };
}

/**
 * Records migrations as applied without running them, for a schema that has their objects already:
 * one TypeORM's runner migrated, or one older than sagactl. Their objects are checked first, against
 * the same migrations built in a scratch database; when any is missing, nothing is recorded.
 */
export async function runBaseline(deps: MigrateDeps, opts: BaselineOptions = {}): Promise<BaselineResult> {
  return withMigrationClient(deps, async (client) => {
    const history = await readHistory(client);
    const recorded = new Set(history.map((h) => h.name));
    const { chosen, from } = choose(deps.migrations, recorded, await readTypeormHistory(client), opts.to);
    if (chosen.length === 0) return { recorded: [], differences: [] };
    const schema = await currentSchema(client);
    const ignore = await historyTables(client);
    const live = await readSchema(client, schema, ignore);
    const adopted = new Set([...recorded, ...chosen.map((m) => m.name)]);
    const expected = await expectedSchema(scratchServerOf(deps.db, opts.scratchUrl), schema, deps.migrations.filter((m) => adopted.has(m.name)), ignore, live);
    const { differences } = diffSchemas(expected, live);
    const missing = differences.filter((d) => d.change === 'missing');
    if (missing.length > 0) {
      throw new CheckFailedError(`Cannot baseline ${chosen.map((m) => m.name).join(', ')}: the database lacks what they make:\n` +
        `${missing.map((d) => `  ${describeDifference(d)}`).join('\n')}\nNothing was recorded.`,
      'Baseline only up to the newest migration whose objects all exist (--to NAME), then `sagactl migrate up` runs the rest.');
    }
    await assertCanMigrate(client, 'up');
    await ensureHistory(client);
    await client.query('BEGIN');
    try {
      for (const m of chosen) await client.query(INSERT_HISTORY_SQL, historyParams(m, 0, from));
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    deps.log(`baselined ${chosen.length} migration(s) from the ${from}`);
    return { recorded: chosen.map((m) => ({ name: m.name, from })), differences };
  });
}
