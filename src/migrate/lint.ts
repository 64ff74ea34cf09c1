import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../paths';
import { CheckFailedError, UsageError } from '../errors';
import type { Migration } from './loader';
import { Capture, captureStatements } from './capture';
import { runSquawk } from './squawk';

/** Where the project says which lint rules do not apply, and why: visible in review and in every report. */
export const LINT_CONFIG = path.join('migrations', 'lint.json');

export interface ExcludedRule { rule: string; reason: string }
export interface LintException { migration: string; rule: string; reason: string }
export interface LintConfig { excludeRules: ExcludedRule[]; exceptions: LintException[] }

export interface LintFinding {
  migration: string;
  /** The migration's source file, and the line of the `q.query(...)` that sent the statement. */
  file: string;
  line: number | null;
  /** Which statement of the migration (from 1), and the line within it. */
  statement: number;
  statementLine: number;
  sql: string;
  rule: string;
  level: string;
  message: string;
  help: string | null;
}

export interface LintReport {
  ok: boolean;
  migrations: string[];
  violations: LintFinding[];
  /** Findings the config allows for one migration, each with its reason. */
  allowed: (LintFinding & { reason: string })[];
  excludedRules: ExcludedRule[];
  /** Migrations that read the database to decide: only the statements before that were linted. */
  incomplete: { migration: string; reason: string }[];
}

export const SYNTAX_ERROR = 'syntax-error';

export function loadLintConfig(root = packageRoot()): LintConfig {
  const file = path.join(root, LINT_CONFIG);
  if (!fs.existsSync(file)) return { excludeRules: [], exceptions: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${LINT_CONFIG} is not valid JSON: ${(err as Error).message}`);
  }
  const config = raw as Partial<LintConfig>;
  const reasoned = (e: { rule?: unknown; reason?: unknown }) => typeof e?.rule === 'string' && typeof e.reason === 'string' && e.reason.trim() !== '';
  const excludeRules = config.excludeRules ?? [];
  const exceptions = config.exceptions ?? [];
  if (!Array.isArray(excludeRules) || !excludeRules.every(reasoned) || !Array.isArray(exceptions)
    || !exceptions.every((e) => reasoned(e) && typeof e.migration === 'string')) {
    throw new UsageError(`${LINT_CONFIG}: every entry of excludeRules needs a rule and a reason, and every entry of exceptions a ` +
      'migration, a rule and a reason.');
  }
  if (excludeRules.some((e) => e.rule === SYNTAX_ERROR) || exceptions.some((e) => e.rule === SYNTAX_ERROR)) {
    throw new UsageError(`${LINT_CONFIG}: SQL that does not parse cannot be excepted.`);
  }
  return { excludeRules, exceptions };
}

interface Located { migration: Migration; capture: Capture; text: string; starts: number[] }

/** The SQL squawk reads for one migration: its statements, inside BEGIN/COMMIT when the runner wraps them. */
function sqlFile(m: Migration, capture: Capture): Located {
  const lines: string[] = m.transactional ? ['BEGIN;'] : [];
  const starts: number[] = [];
  for (const s of capture.statements) {
    starts.push(lines.length);
    lines.push(...`${s.sql.trim().replace(/;\s*$/, '')};`.split('\n'));
  }
  if (m.transactional) lines.push('COMMIT;');
  return { migration: m, capture, text: `${lines.join('\n')}\n`, starts };
}

/** Squawk's findings for the migrations' `up` statements, placed back at their migration, statement and line. */
export async function findLintFindings(migrations: Migration[], exclude: string[]): Promise<{ findings: LintFinding[]; located: Located[] }> {
  const located: Located[] = [];
  for (const m of migrations) located.push(sqlFile(m, await captureStatements(m, 'up')));
  const raw = await runSquawk(located.map((l) => ({ name: `${l.migration.name}.sql`, text: l.text })), exclude);
  const findings: LintFinding[] = [];
  const sources = new Map(migrations.map((m) => [m.name, fs.readFileSync(m.sourcePath, 'utf8').split('\n')]));
  for (const f of raw) {
    const l = located.find((x) => `${x.migration.name}.sql` === f.file);
    if (!l) continue;
    // The statement whose lines hold the finding; BEGIN and COMMIT are the runner's own.
    let index = -1;
    for (let i = 0; i < l.starts.length; i++) if (l.starts[i] <= f.line) index = i;
    if (index < 0) continue;
    const s = l.capture.statements[index];
    const statementLine = f.line - l.starts[index] + 1;
    findings.push({
      migration: l.migration.name, file: l.migration.file, line: sourceLine(sources.get(l.migration.name)!, s.line, s.sql, statementLine),
      statement: index + 1, statementLine, sql: s.sql.trim(), rule: f.rule_name, level: f.level, message: f.message, help: f.help,
    });
  }
  return { findings, located };
}

/**
 * The line of the source a finding is on: the statement's own line when its text is written out
 * from the `q.query(` line on, else that call's line (a statement built from parts).
 */
function sourceLine(source: string[], callLine: number | undefined, sql: string, statementLine: number): number | null {
  if (callLine === undefined) return null;
  const first = sql.trim().split('\n')[0].trim();
  const written = source[callLine - 1]?.includes(first) && (statementLine === 1 || source[callLine - 1 + statementLine - 1] !== undefined);
  return written ? callLine + statementLine - 1 : callLine;
}

export async function lintMigrations(migrations: Migration[], root = packageRoot()): Promise<LintReport> {
  const config = loadLintConfig(root);
  const { findings, located } = await findLintFindings(migrations, config.excludeRules.map((e) => e.rule));
  const violations: LintFinding[] = [];
  const allowed: LintReport['allowed'] = [];
  for (const f of findings) {
    const exception = config.exceptions.find((e) => e.migration === f.migration && e.rule === f.rule);
    if (exception) allowed.push({ ...f, reason: exception.reason });
    else violations.push(f);
  }
  return {
    ok: violations.length === 0,
    migrations: migrations.map((m) => m.name),
    violations,
    allowed,
    excludedRules: config.excludeRules,
    incomplete: located.filter((l) => l.capture.incomplete).map((l) => ({ migration: l.migration.name, reason: l.capture.incomplete! })),
  };
}

export function describeFinding(f: LintFinding): string {
  return `${f.file}${f.line ? `:${f.line}` : ''}: ${f.migration}, statement ${f.statement} (line ${f.statementLine} of it): ${f.rule}: ${f.message}`;
}

/** `migrate up --lint`: nothing is applied when a migration about to run fails the lint. */
export async function assertLintPasses(migrations: Migration[], root = packageRoot()): Promise<void> {
  const report = await lintMigrations(migrations, root);
  if (report.ok) return;
  throw new CheckFailedError(`The lint failed, so nothing was applied:\n${report.violations.map((v) => `  ${describeFinding(v)}`).join('\n')}`,
    `See \`sagactl migrate lint\`; fix the migration, or allow the rule for it with a reason in ${LINT_CONFIG}.`);
}

/** Statements that do not parse, for `migrate plan`: reported at their file and line, whatever the lint rules say. */
export async function assertParses(migrations: Migration[]): Promise<void> {
  const { findings } = await findLintFindings(migrations, []);
  const broken = findings.filter((f) => f.rule === SYNTAX_ERROR);
  if (broken.length === 0) return;
  const first = new Map<string, LintFinding>();
  for (const f of broken) if (!first.has(`${f.migration}#${f.statement}`)) first.set(`${f.migration}#${f.statement}`, f);
  throw new CheckFailedError(`SQL that does not parse: ${[...first.values()].map((f) =>
    `${f.file}${f.line ? `:${f.line}` : ''} (${f.migration}, statement ${f.statement}, line ${f.statementLine} of it: ${f.message})`).join('; ')}.`,
  'Fix the statement in that migration, then `npm run build`.');
}
