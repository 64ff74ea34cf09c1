import { diffSchemas } from '../../src/migrate/schema-diff';
import { keyOf, SchemaObject, SchemaSnapshot } from '../../src/migrate/schema';
import { printLint, printDrift, printPlan } from '../../src/cli/migrate-render';
import { createOutput } from '../../src/cli/output';
import type { Io } from '../../src/cli/io';
import type { LintReport } from '../../src/migrate/lint';

const snap = (...objects: SchemaObject[]): SchemaSnapshot => new Map(objects.map((o) => [keyOf(o), o]));
const col = (table: string, name: string, type: string, notNull = false, def: string | null = null): SchemaObject =>
  ({ kind: 'column', table, name, definition: [type, notNull ? 'NOT NULL' : 'NULL', def ? `DEFAULT ${def}` : ''].filter(Boolean).join(' '),
    column: { type, notNull, default: def, extra: '' } });

test('SQL comes in dependency order (a table made whole is listed once, its key made with it): triggers before their functions dropped, foreign keys after other keys made', () => {
  const expected = snap(
    { kind: 'table', name: 'a', definition: 'table' }, col('a', 'id', 'integer', true),
    { kind: 'table', name: 'b', definition: 'table' }, col('b', 'a_id', 'integer'),
    { kind: 'constraint', table: 'b', name: 'b_a_fk', definition: 'FOREIGN KEY (a_id) REFERENCES a(id)', foreignKey: true },
    { kind: 'constraint', table: 'a', name: 'a_pkey', definition: 'PRIMARY KEY (id)' },
  );
  const actual = snap(
    { kind: 'table', name: 'b', definition: 'table' }, col('b', 'a_id', 'bigint'),
    { kind: 'function', name: 'f()', definition: 'CREATE OR REPLACE FUNCTION public.f() ...' },
    { kind: 'trigger', table: 'b', name: 'tg', definition: 'CREATE TRIGGER tg BEFORE INSERT ON public.b FOR EACH ROW EXECUTE FUNCTION f()' },
  );
  const { differences, sql } = diffSchemas(expected, actual);
  expect(differences.map((d) => `${d.change} ${d.kind} ${d.table ?? ''}.${d.name}`)).toEqual([
    'missing table .a', 'changed column b.a_id', 'missing constraint b.b_a_fk', 'extra function .f()', 'extra trigger b.tg']);
  expect(sql).toEqual([
    'DROP TRIGGER tg ON b',
    'DROP FUNCTION f()',
    'ALTER TABLE b ALTER COLUMN a_id TYPE integer',
    'CREATE TABLE a (\n  id integer NOT NULL\n)',
    'ALTER TABLE a ADD CONSTRAINT a_pkey PRIMARY KEY (id)',
    'ALTER TABLE b ADD CONSTRAINT b_a_fk FOREIGN KEY (a_id) REFERENCES a(id)',
  ]);
});

test('columns are altered part by part; an invalid index is rebuilt; a disabled trigger enabled', () => {
  const expected = snap(col('t', 'c', 'text', true, `'x'::text`),
    { kind: 'index', table: 't', name: 'i', definition: 'CREATE INDEX i ON public.t USING btree (c)' },
    { kind: 'trigger', table: 't', name: 'tg', definition: 'CREATE TRIGGER tg ...' });
  const actual = snap(col('t', 'c', 'text'),
    { kind: 'index', table: 't', name: 'i', definition: 'CREATE INDEX i ON public.t USING btree (c) -- INVALID' },
    { kind: 'trigger', table: 't', name: 'tg', definition: 'CREATE TRIGGER tg ... -- DISABLED' });
  expect(diffSchemas(expected, actual).sql).toEqual([
    `ALTER TABLE t ALTER COLUMN c SET DEFAULT 'x'::text`, 'ALTER TABLE t ALTER COLUMN c SET NOT NULL',
    'REINDEX INDEX CONCURRENTLY i', 'ALTER TABLE t ENABLE TRIGGER tg']);
});

function capture(): { io: Io; out: () => string } {
  let text = '';
  const io: Io = { stdout: { write: (s: string) => (text += s) }, stderr: { write: () => true }, env: {}, cwd: '/', stdinIsTTY: false,
    stdoutIsTTY: false, stderrIsTTY: false };
  return { io, out: () => text };
}

test('GitHub annotations escape what the runner would read as syntax; text names file, line, rule and statement', () => {
  const finding = { migration: '1800000000100-x', file: 'migrations/1800000000100-x.ts', line: 7, statement: 2, statementLine: 1,
    sql: 'CREATE INDEX i\n  ON t (c)', rule: 'require-concurrent-index-creation', level: 'Warning', message: '50% slower, blocks: writes', help: 'Use `concurrently`.' };
  const report: LintReport = { ok: false, migrations: ['1800000000100-x'], violations: [finding], allowed: [], excludedRules: [], incomplete: [] };
  const gh = capture();
  printLint(createOutput(gh.io, {}), report, 'github');
  expect(gh.out().split('\n')[0]).toBe('::error file=migrations/1800000000100-x.ts,line=7,title=squawk require-concurrent-index-creation in 1800000000100-x::' +
    '50%25 slower, blocks: writes Use `concurrently`. (statement 2, line 1 of it: CREATE INDEX i ON t (c))');
  const text = capture();
  printLint(createOutput(text.io, {}), report, 'text');
  expect(text.out()).toContain('migrations/1800000000100-x.ts:7: require-concurrent-index-creation in 1800000000100-x, statement 2 (line 1 of it)\n');
  expect(text.out()).toContain('  > CREATE INDEX i ON t (c)\n');
  expect(text.out()).toContain('1 migration(s) linted: 1 violation(s), 0 allowed by exception');
});

test('a drift report for people: the differences, then the SQL, one statement a line', () => {
  const lines: string[] = [];
  printDrift((l) => lines.push(l), { ok: false, basedOn: ['a', 'b'], missingFiles: [], scratchServer: 'x',
    differences: [{ change: 'extra', kind: 'column', table: 'users', name: 'nick', actual: 'text NULL' }], sql: ['ALTER TABLE users DROP COLUMN nick'] });
  expect(lines).toEqual(['Drift: the schema differs from what its 2 applied migration(s) make:',
    '  extra    column users.nick: in the database, made by no applied migration (text NULL)',
    'SQL that would make the database match the migrations (review it; nothing was run):', '  ALTER TABLE users DROP COLUMN nick;']);
});

test('a finding with no line or help, and an exception allowed, read in both formats; an incomplete lint says where it stopped', () => {
  const finding = { migration: '1800000000200-y', file: 'migrations/1800000000200-y.ts', line: null, statement: 1, statementLine: 3,
    sql: 'ALTER TABLE t ADD COLUMN c int NOT NULL', rule: 'adding-required-field', level: 'Warning', message: 'Adding a NOT NULL field', help: null };
  const allowed = { ...finding, line: 12, rule: 'prefer-robust-stmts', reason: 'runs once, on an empty table' };
  const report: LintReport = { ok: false, migrations: ['1800000000200-y'], violations: [finding], allowed: [allowed, { ...allowed, line: null }], excludedRules: [],
    incomplete: [{ migration: '1800000000200-y', reason: 'it asks pg_indexes' }] };
  const gh = capture();
  printLint(createOutput(gh.io, {}), report, 'github');
  expect(gh.out().split('\n').slice(0, 3)).toEqual([
    '::error file=migrations/1800000000200-y.ts,title=squawk adding-required-field in 1800000000200-y::Adding a NOT NULL field (statement 1, line 3 of it: ALTER TABLE t ADD COLUMN c int NOT NULL)',
    '::notice file=migrations/1800000000200-y.ts,line=12::prefer-robust-stmts allowed in 1800000000200-y (migrations/lint.json): runs once, on an empty table',
    '::notice file=migrations/1800000000200-y.ts::prefer-robust-stmts allowed in 1800000000200-y (migrations/lint.json): runs once, on an empty table',
  ]);
  const text = capture();
  printLint(createOutput(text.io, {}), report, 'text');
  expect(text.out().split('\n').slice(0, 6)).toEqual([
    'migrations/1800000000200-y.ts: adding-required-field in 1800000000200-y, statement 1 (line 3 of it)',
    '  Adding a NOT NULL field',
    '  > ALTER TABLE t ADD COLUMN c int NOT NULL',
    'migrations/1800000000200-y.ts:12: prefer-robust-stmts allowed in 1800000000200-y (migrations/lint.json): runs once, on an empty table',
    'migrations/1800000000200-y.ts: prefer-robust-stmts allowed in 1800000000200-y (migrations/lint.json): runs once, on an empty table',
    '1800000000200-y: linted up to where it reads the database (it asks pg_indexes)',
  ]);
});

test('a plan for people: each migration, how it runs, its statements with their parameters, and where an answer decides the rest', () => {
  const lines: string[] = [];
  printPlan((l) => lines.push(l), [
    { name: 'a', transactional: true, statements: [{ sql: 'CREATE TABLE t (c int)' }] },
    { name: 'b', transactional: false, statements: [{ sql: 'SELECT 1 FROM pg_indexes WHERE indexname = $1', params: ['i'] }], incomplete: 'SELECT 1 FROM pg_indexes ...' },
  ]);
  expect(lines).toEqual(['-- a: one transaction', 'CREATE TABLE t (c int);', '',
    '-- b: outside a transaction, statement by statement', 'SELECT 1 FROM pg_indexes WHERE indexname = $1;  -- params: ["i"]',
    '-- (what follows depends on what the database answers; the migration stopped here when answered with no rows: SELECT 1 FROM pg_indexes ...)', '']);
});
