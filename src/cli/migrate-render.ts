import type { Output } from './output';
import type { MigrationStatus } from '../migrate/runner';
import type { PlannedMigration } from '../migrate/plan';
import type { LintReport } from '../migrate/lint';
import type { DriftReport } from '../migrate/drift';
import type { Adoptable } from '../migrate/typeorm-history';

/** How migrate's reports read for people; --json prints the same data as it is. */
export function printPlan(print: (line: string) => void, plan: PlannedMigration[]): void {
  for (const p of plan) {
    print(`-- ${p.name}: ${p.transactional ? 'one transaction' : 'outside a transaction, statement by statement'}`);
    for (const s of p.statements) print(`${s.sql};${s.params ? `  -- params: ${JSON.stringify(s.params)}` : ''}`);
    if (p.incomplete) print(`-- (what follows depends on what the database answers; the migration stopped here when answered with no rows: ${p.incomplete})`);
    print('');
  }
}

export function printStatus(out: Output, status: MigrationStatus & { adopt: Adoptable | null; drift: DriftReport | null }): void {
  const changed = new Set(status.changed.map((c) => c.name));
  const missing = new Set(status.missing.map((c) => c.name));
  const late = new Set(status.outOfOrder.map((c) => c.name));
  const adopt = new Set(status.adopt?.migrations ?? []);
  const state = (name: string, baselined: string | null) => changed.has(name) ? out.color.red('CHANGED')
    : missing.has(name) ? out.color.red('MISSING FILE') : out.color.green(baselined ? `applied (baselined: ${baselined})` : 'applied');
  out.table(['migration', 'state', 'applied at', 'by'], [
    ...status.applied.map((a) => [a.name, state(a.name, a.baselinedFrom), new Date(a.appliedAt).toISOString(), `${a.appliedBy}@${a.host}`]),
    ...status.pending.map((p) => [p.name,
      late.has(p.name) ? out.color.red('pending, OUT OF ORDER') : adopt.has(p.name) ? out.color.yellow('applied by TypeORM') : out.color.yellow('pending'), '', '']),
  ]);
  out.print(`${status.applied.length} applied, ${status.pending.length} pending, ${status.changed.length} changed` +
    `${status.outOfOrder.length ? `, ${status.outOfOrder.length} out of order` : ''}`);
  if (status.adopt?.from === 'typeorm') {
    out.print(`This database was migrated by TypeORM's runner: ${status.adopt.migrations.length} of these migrations are in its "migrations" ` +
      `table, not in sagactl's history. Adopt them: ${status.adopt.command}`);
  } else if (status.adopt) {
    out.print(`This database has tables but no sagactl history: its schema predates sagactl. Adopt it: ${status.adopt.command}`);
  }
  if (status.drift) printDrift(out.print, status.drift);
}

export function printDrift(print: (line: string) => void, drift: DriftReport): void {
  for (const name of drift.missingFiles) print(`applied migration ${name} has no file: what it made counts as drift`);
  if (drift.differences.length === 0) {
    print(`The schema matches its ${drift.basedOn.length} applied migration(s).`);
    return;
  }
  const { describeDifference } = require('../migrate/schema-diff') as typeof import('../migrate/schema-diff');
  print(`Drift: the schema differs from what its ${drift.basedOn.length} applied migration(s) make:`);
  for (const d of drift.differences) print(`  ${describeDifference(d)}`);
  print('SQL that would make the database match the migrations (review it; nothing was run):');
  for (const s of drift.sql) print(`  ${s.replace(/\n/g, '\n  ')};`);
}

/** GitHub Actions workflow commands: data and properties escaped as the runner reads them. */
const ghData = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const ghProperty = (s: string) => ghData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

export function printLint(out: Output, report: LintReport, format: 'text' | 'github'): void {
  const oneLine = (sql: string) => sql.replace(/\s+/g, ' ').slice(0, 120);
  for (const v of report.violations) {
    if (format === 'github') {
      out.print(`::error file=${ghProperty(v.file)}${v.line ? `,line=${v.line}` : ''},title=${ghProperty(`squawk ${v.rule} in ${v.migration}`)}::` +
        ghData(`${v.message}${v.help ? ` ${v.help}` : ''} (statement ${v.statement}, line ${v.statementLine} of it: ${oneLine(v.sql)})`));
      continue;
    }
    out.print(`${v.file}${v.line ? `:${v.line}` : ''}: ${out.color.red(v.rule)} in ${v.migration}, statement ${v.statement} (line ${v.statementLine} of it)`);
    out.print(`  ${v.message}${v.help ? `\n  help: ${v.help}` : ''}`);
    out.print(`  > ${oneLine(v.sql)}`);
  }
  for (const a of report.allowed) {
    const text = `${a.rule} allowed in ${a.migration} (migrations/lint.json): ${a.reason}`;
    out.print(format === 'github' ? `::notice file=${ghProperty(a.file)}${a.line ? `,line=${a.line}` : ''}::${ghData(text)}` : `${a.file}${a.line ? `:${a.line}` : ''}: ${text}`);
  }
  for (const i of report.incomplete) out.print(`${i.migration}: linted up to where it reads the database (${i.reason})`);
  out.print(`${report.migrations.length} migration(s) linted: ${report.violations.length} violation(s), ${report.allowed.length} allowed by exception, ` +
    `${report.excludedRules.length} rule(s) off for every migration (see migrations/lint.json).`);
}
