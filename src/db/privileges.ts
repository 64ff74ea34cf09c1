import { UnreachableError } from '../errors';
import type { Db } from './pool';

/**
 * What each command needs of the role it runs as, checked right after connecting, before
 * anything is read or written: a role without one of them fails with exit 4 naming every
 * missing privilege, instead of failing half way (docs/roles.md gives the grants per role).
 * A command absent here needs nothing beyond connecting, or checks for itself (migrate).
 */
type Privilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE' | 'TRUNCATE';
type Need = readonly [Privilege, string];

const read = (...tables: string[]): Need[] => tables.map((t) => ['SELECT', t]);
const write = (privileges: Privilege[], ...tables: string[]): Need[] => tables.flatMap((t) => privileges.map((p): Need => [p, t]));

const READ_SAGAS = read('saga_states', 'saga_step_results');
/** A purchase, as the engine runs it: the step statements and their compensations. */
const ENGINE = [
  ...read('users', 'items', 'saga_states', 'saga_step_results', 'saga_events', 'transaction_logs', 'notifications'),
  ...write(['UPDATE'], 'users', 'items', 'saga_states', 'saga_events', 'transaction_logs', 'notifications'),
  ...write(['INSERT'], 'saga_states', 'saga_step_results', 'saga_events', 'transaction_logs', 'notifications'),
];
/** An operator's act: the engine's undos plus the evidence (ledger), the audit and the stats marks. */
const OPERATOR = [...ENGINE, ...read('ledger', 'operator_audit'), ...write(['INSERT'], 'operator_audit', 'saga_stats_dirty')];
const SEED = [...read('users', 'items'), ...write(['INSERT', 'UPDATE'], 'users', 'items')];
const DOMAIN = ['saga_events', 'saga_step_results', 'notifications', 'transaction_logs', 'saga_states', 'items', 'users'];
/** What an archive holds: every saga table, the accounts, the ledger and the audit. */
const EVERYTHING = read(...DOMAIN, 'ledger', 'operator_audit');

export const COMMAND_PRIVILEGES: Record<string, readonly Need[]> = {
  'saga-run': ENGINE,
  'saga-load': ENGINE,
  'saga-show': READ_SAGAS,
  'saga-list': READ_SAGAS,
  'saga-stuck': [...READ_SAGAS, ...read('operator_audit')],
  'saga-compensate': OPERATOR,
  'saga-recover': OPERATOR,
  'seed-fixtures': SEED,
  'seed-generate': SEED,
  'seed-reset': [...SEED, ...write(['TRUNCATE'], ...DOMAIN)],
  'saga-retry': OPERATOR,
  'saga-export': EVERYTHING,
  'saga-import': [...EVERYTHING, ...write(['INSERT'], ...DOMAIN, 'ledger', 'operator_audit'), ...write(['UPDATE', 'DELETE'], 'saga_stats_pruned')],
  'saga-prune': [...EVERYTHING, ...write(['DELETE'], ...DOMAIN.slice(0, 5)), ...write(['INSERT', 'UPDATE', 'DELETE'], 'ledger'),
    ...write(['INSERT', 'UPDATE'], 'saga_stats_pruned', 'saga_stats_pruned_latency'), ...write(['INSERT'], 'operator_audit')],
  'audit-list': read('operator_audit'),
  'stats': [...READ_SAGAS, ...read('saga_stats_rollup', 'saga_stats_latency', 'saga_stats_state', 'saga_stats_pruned', 'saga_stats_pruned_latency')],
  'db-check': [...READ_SAGAS, ...read('users', 'items', 'transaction_logs', 'ledger', 'saga_events', 'operator_audit')],
};

const MISSING_SQL = `
SELECT n.privilege, n.tbl AS "table"
  FROM unnest($1::text[], $2::text[]) AS n(privilege, tbl)
 WHERE to_regclass(n.tbl) IS NOT NULL AND NOT has_table_privilege(to_regclass(n.tbl), n.privilege)`;

/** Fails with exit 4 naming every privilege `command` needs that the session's role lacks. */
export async function assertPrivileges(db: Pick<Db, 'query'>, command: string): Promise<void> {
  const needs = COMMAND_PRIVILEGES[command];
  if (!needs || needs.length === 0) return;
  const missing = await db.query<{ privilege: string; table: string }>(MISSING_SQL, [needs.map((n) => n[0]), needs.map((n) => n[1])]);
  if (missing.length === 0) return;
  const [{ role }] = await db.query<{ role: string }>('SELECT current_user AS role');
  const list = missing.map((m) => `${m.privilege} on ${m.table}`).join(', ');
  throw new UnreachableError(`Permission denied: the role "${role}" lacks ${list}, which ${command.replace('-', ' ')} needs. Nothing was changed.`,
    'Run it as a role with the grants docs/roles.md lists for this command (migrator, operator or reader).');
}
