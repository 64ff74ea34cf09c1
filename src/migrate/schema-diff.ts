import { keyOf, ObjectKind, SchemaObject, SchemaSnapshot } from './schema';

/** One way the live schema differs from what its applied migrations produce. */
export interface SchemaDifference {
  /** missing: the migrations make it, the database lacks it; extra: only the database has it; changed: both, unlike. */
  change: 'missing' | 'extra' | 'changed';
  kind: ObjectKind;
  name: string;
  table?: string;
  /** What the migrations produce, and what the database has. */
  expected?: string;
  actual?: string;
}

export interface SchemaDiff {
  differences: SchemaDifference[];
  /** SQL that makes the database match the migrations: printed for review, never run. */
  sql: string[];
}

/** Drops before creates; within each, the order dependencies need (a trigger after its function, a key after its tables). */
const DROP_ORDER: ObjectKind[] = ['trigger', 'view', 'index', 'constraint', 'column', 'table', 'function', 'type'];
const CREATE_ORDER: ObjectKind[] = ['type', 'function', 'table', 'column', 'constraint', 'index', 'view', 'trigger'];

const concurrently = (indexdef: string) => indexdef.replace(/^CREATE (UNIQUE )?INDEX /, 'CREATE $1INDEX CONCURRENTLY ');
const withoutNote = (definition: string) => definition.replace(/ -- (INVALID|DISABLED)$/, '');
/** A view's definition ("[MATERIALIZED ]VIEW AS <query>", src/migrate/schema.ts) as the statement that makes it, under its name. */
const viewSql = (o: SchemaObject, verb: string) => `${verb} ${o.definition.replace(/^((?:MATERIALIZED )?VIEW) AS /, `$1 ${o.name} AS `)}`;

function createSql(o: SchemaObject, columns: SchemaObject[]): string[] {
  switch (o.kind) {
    case 'table': return [`CREATE TABLE ${o.name} (\n${columns.map((c) => `  ${c.name} ${c.definition}`).join(',\n')}\n)`];
    case 'column': return [`ALTER TABLE ${o.table} ADD COLUMN ${o.name} ${o.definition}`];
    case 'constraint': return [`ALTER TABLE ${o.table} ADD CONSTRAINT ${o.name} ${o.definition}`];
    case 'index': return [concurrently(withoutNote(o.definition))];
    case 'trigger': return [withoutNote(o.definition), ...(o.definition.endsWith('-- DISABLED') ? [`ALTER TABLE ${o.table} DISABLE TRIGGER ${o.name}`] : [])];
    case 'function': return [o.definition.trim()];
    case 'view': return [viewSql(o, 'CREATE')];
    case 'type': return [o.definition.startsWith('ENUM') ? `CREATE TYPE ${o.name} AS ${o.definition}` : `CREATE ${o.definition.replace(/^DOMAIN/, `DOMAIN ${o.name}`)}`];
  }
}

function dropSql(o: SchemaObject): string[] {
  switch (o.kind) {
    case 'table': return [`DROP TABLE ${o.name}`];
    case 'column': return [`ALTER TABLE ${o.table} DROP COLUMN ${o.name}`];
    case 'constraint': return [`ALTER TABLE ${o.table} DROP CONSTRAINT ${o.name}`];
    case 'index': return [`DROP INDEX CONCURRENTLY ${o.name}`];
    case 'trigger': return [`DROP TRIGGER ${o.name} ON ${o.table}`];
    case 'function': return [`DROP FUNCTION ${o.name}`];
    case 'view': return [`DROP ${o.definition.startsWith('MATERIALIZED') ? 'MATERIALIZED VIEW' : 'VIEW'} ${o.name}`];
    case 'type': return [`DROP ${o.definition.startsWith('ENUM') ? 'TYPE' : 'DOMAIN'} ${o.name}`];
  }
}

/** A changed object: a column altered part by part, a function or view replaced, anything else dropped and made again. */
function alterSql(want: SchemaObject, have: SchemaObject): string[] {
  if (want.kind === 'column' && want.column && have.column) {
    const alter = `ALTER TABLE ${want.table} ALTER COLUMN ${want.name}`;
    if (want.column.extra !== have.column.extra) return [...dropSql(have), ...createSql(want, [])];
    const sql: string[] = [];
    if (want.column.type !== have.column.type) sql.push(`${alter} TYPE ${want.column.type}`);
    if (want.column.default !== have.column.default) sql.push(want.column.default === null ? `${alter} DROP DEFAULT` : `${alter} SET DEFAULT ${want.column.default}`);
    if (want.column.notNull !== have.column.notNull) sql.push(`${alter} ${want.column.notNull ? 'SET' : 'DROP'} NOT NULL`);
    return sql;
  }
  if (want.kind === 'function') return createSql(want, []);
  // A materialized view has no CREATE OR REPLACE: it is dropped and made again, below.
  if (want.kind === 'view' && !want.definition.startsWith('MATERIALIZED')) return [viewSql(want, 'CREATE OR REPLACE')];
  if (want.kind === 'trigger' && withoutNote(want.definition) === withoutNote(have.definition)) {
    return [`ALTER TABLE ${want.table} ${want.definition.endsWith('-- DISABLED') ? 'DISABLE' : 'ENABLE'} TRIGGER ${want.name}`];
  }
  if (want.kind === 'index' && withoutNote(want.definition) === withoutNote(have.definition)) return [`REINDEX INDEX CONCURRENTLY ${want.name}`];
  return [...dropSql(have), ...createSql(want, [])];
}

/** The differences between what the migrations produce (`expected`) and the database (`actual`), and the SQL between them. */
export function diffSchemas(expected: SchemaSnapshot, actual: SchemaSnapshot): SchemaDiff {
  const differences: SchemaDifference[] = [];
  const drops: [ObjectKind, string[]][] = [];
  const creates: [number, string[]][] = [];
  const alters: string[] = [];
  // A table made or dropped whole takes its columns, constraints, indexes and triggers with it.
  const tableKey = (table: string) => keyOf({ kind: 'table', name: table });
  const partOfWhole = (o: SchemaObject, other: SchemaSnapshot) => o.table !== undefined && o.kind !== 'constraint' && o.kind !== 'index'
    && o.kind !== 'trigger' && !other.has(tableKey(o.table));
  const goneWithTable = (o: SchemaObject, other: SchemaSnapshot) => o.table !== undefined && !other.has(tableKey(o.table));
  // A table missing or extra as a whole is one difference, listed with its columns; its parts are not listed again.
  const whole = (t: SchemaObject, snapshot: SchemaSnapshot) =>
    `${t.definition} (${[...snapshot.values()].filter((c) => c.kind === 'column' && c.table === t.name).map((c) => `${c.name} ${c.definition}`).join(', ')})`;
  for (const [key, want] of expected) {
    const have = actual.get(key);
    const where = { kind: want.kind, name: want.name, ...(want.table ? { table: want.table } : {}) };
    if (!have) {
      if (!goneWithTable(want, actual)) differences.push({ change: 'missing', ...where, expected: want.kind === 'table' ? whole(want, expected) : want.definition });
      if (!partOfWhole(want, actual)) {
        const columns = [...expected.values()].filter((c) => c.kind === 'column' && c.table === want.name);
        // A foreign key goes after every other constraint: the key it references may be missing too.
        creates.push([CREATE_ORDER.indexOf(want.kind) + (want.foreignKey ? 0.5 : 0), createSql(want, columns)]);
      }
    } else if (have.definition !== want.definition) {
      differences.push({ change: 'changed', ...where, expected: want.definition, actual: have.definition });
      alters.push(...alterSql(want, have));
    }
  }
  for (const [key, have] of actual) {
    if (expected.has(key) || goneWithTable(have, expected)) continue;
    differences.push({ change: 'extra', kind: have.kind, name: have.name, ...(have.table ? { table: have.table } : {}),
      actual: have.kind === 'table' ? whole(have, actual) : have.definition });
    drops.push([have.kind, dropSql(have)]);
  }
  const dropSqls = DROP_ORDER.flatMap((kind) => drops.filter(([k]) => k === kind).flatMap(([, sql]) => sql));
  const createSqls = creates.sort((a, b) => a[0] - b[0]).flatMap(([, sql]) => sql);
  return { differences, sql: [...dropSqls, ...alters, ...createSqls] };
}

export function describeDifference(d: SchemaDifference): string {
  const what = `${d.kind} ${d.table ? `${d.table}.` : ''}${d.name}`;
  const oneLine = (s?: string) => (s ?? '').replace(/\s+/g, ' ').trim();
  switch (d.change) {
    case 'missing': return `missing  ${what}: made by the migrations, not in the database (${oneLine(d.expected)})`;
    case 'extra': return `extra    ${what}: in the database, made by no applied migration (${oneLine(d.actual)})`;
    case 'changed': return `changed  ${what}: the migrations make "${oneLine(d.expected)}", the database has "${oneLine(d.actual)}"`;
  }
}
