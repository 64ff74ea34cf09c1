import { DataSource } from 'typeorm';
import { createTestDb, TestDb } from '../support/database';
import { createDataSource } from '../../src/db/data-source';

let t: TestDb;
let ds: DataSource;
beforeAll(async () => {
  t = await createTestDb();
  ds = await createDataSource(t.url, 'sagactl-test').initialize();
});
afterAll(async () => {
  await ds.destroy();
  await t.drop();
});

const PG_TYPE: Record<string, string> = {
  varchar: 'character varying', decimal: 'numeric', numeric: 'numeric', integer: 'integer', int: 'integer',
  boolean: 'boolean', timestamp: 'timestamp without time zone', timestamptz: 'timestamp with time zone',
  text: 'text', jsonb: 'jsonb', bigint: 'bigint', smallint: 'smallint', 'double precision': 'double precision',
};

test("TypeORM's own schema builder plans zero statements against a database sagactl migrated", async () => {
  const log = await ds.driver.createSchemaBuilder().log();
  expect(log.upQueries.map((q) => q.query)).toEqual([]);
});

test('the library exports exactly these entities, loaded only on first access', async () => {
  const lib = await import('../../src/index');
  expect(lib.entities).toHaveLength(ds.entityMetadatas.length);
  expect(lib.SagaState).toBe((await import('../../src/db/entities')).SagaState);
});

test('every entity column exists in the migrated schema with the same type, nullability and length', async () => {
  const rows = await t.db.query(
    `SELECT table_name, column_name, data_type, is_nullable, character_maximum_length, numeric_precision, numeric_scale
       FROM information_schema.columns WHERE table_schema = 'public'`);
  const byKey = new Map(rows.map((r) => [`${r.table_name}.${r.column_name}`, r]));
  const mismatches: string[] = [];
  for (const entity of ds.entityMetadatas) {
    for (const col of entity.columns) {
      const key = `${entity.tableName}.${col.databaseName}`;
      const db = byKey.get(key);
      const type = PG_TYPE[String(col.type)] ?? String(col.type);
      if (!db) mismatches.push(`${key}: missing in the schema`);
      else if (db.data_type !== type) mismatches.push(`${key}: entity ${type}, schema ${db.data_type}`);
      else if (col.length && Number(col.length) !== db.character_maximum_length) mismatches.push(`${key}: length ${col.length} vs ${db.character_maximum_length}`);
      else if (col.precision && col.precision !== db.numeric_precision) mismatches.push(`${key}: precision ${col.precision} vs ${db.numeric_precision}`);
      else if (col.isNullable !== (db.is_nullable === 'YES') && !col.isPrimary) mismatches.push(`${key}: nullable ${col.isNullable} vs ${db.is_nullable}`);
    }
  }
  expect(mismatches).toEqual([]);
  // And every table of the schema has its entity (the migration history table is the runner's own).
  const tables = new Set(rows.map((r) => r.table_name));
  tables.delete('sagactl_migrations');
  expect([...tables].filter((name) => !ds.entityMetadatas.some((e) => e.tableName === name))).toEqual([]);
});

test('an entity read returns money as strings, never floats', async () => {
  await t.db.query(`INSERT INTO users (user_id, name, balance, purchase_limit) VALUES ('e-1', 'E', 12345678.91, 0.10)`);
  const { User } = await import('../../src/db/entities');
  const user = await ds.getRepository(User).findOneByOrFail({ userId: 'e-1' });
  expect(user.balance).toBe('12345678.91');
  expect(user.purchaseLimit).toBe('0.10');
});
