/**
 * The archive format of `saga export`, `saga import` and `saga prune --archive` (docs/runbook.md,
 * "Backup, restore and retention"): newline-delimited JSON, one record a line.
 *
 *   {"type":"header","format":"sagactl-archive","version":1,"exportedAt":...,"filter":{...}}
 *   {"type":"user","user":{...users row...},"ledger":[...its entries not made by a saga...]}
 *   {"type":"item","item":{...items row...},"ledger":[...]}
 *   {"type":"saga","saga":{...saga_states row...},"steps":[...],"logs":[...],"notifications":[...],
 *    "events":[...],"audit":[...],"ledger":[...its movements...]}
 *   {"type":"end","users":N,"items":N,"sagas":N}
 *
 * Rows keep their column names (snake_case), so a record reads like the table it comes from.
 * Money, ledger amounts, durations and big ids are JSON strings ("12.50"), never JSON numbers:
 * a reader in JavaScript would turn them into floats. Generated row ids (steps, events, ledger)
 * are left out and given anew on import; an audit row keeps its id only so the saga's ledger
 * movements can say which audit row they belong to (`audit_id`). Users and items come first, so
 * an import can open their accounts before any saga moves them; the end record tells a complete
 * file from a cut one. Version 1 is this layout; a reader refuses a version it does not know.
 */
export const ARCHIVE_FORMAT = 'sagactl-archive';
export const ARCHIVE_VERSION = 1;

export type RecordType = 'header' | 'user' | 'item' | 'saga' | 'end';

type Row = Record<string, unknown>;

export interface HeaderRecord { type: 'header'; format: string; version: number; exportedAt: string; filter: Row }
export interface AccountRecord { type: 'user' | 'item'; user?: Row; item?: Row; ledger: Row[] }
export interface SagaRecord {
  type: 'saga';
  saga: Row;
  steps: Row[];
  logs: Row[];
  notifications: Row[];
  events: Row[];
  audit: Row[];
  ledger: Row[];
}
export interface EndRecord { type: 'end'; users: number; items: number; sagas: number }

/**
 * Each table's columns as the archive writes them, named one by one (json, not jsonb: several
 * times faster to build, and the keys stay in table order). `::text` marks a column written as a
 * string: money, ledger amounts, durations, big ids. Generated ids are left out. A column added
 * to one of these tables must be added here (test/integration/archive-backup.test.ts checks).
 */
export const ARCHIVE_COLUMNS = {
  users: ['user_id', 'name', 'balance::text', 'status', 'purchase_limit::text', 'created_at', 'updated_at'],
  items: ['item_id', 'name', 'price::text', 'stock', 'is_available', 'created_at', 'updated_at'],
  saga_states: ['transaction_id', 'status', 'user_id', 'item_id', 'quantity', 'price::text', 'created_at', 'updated_at', 'completed_at',
    'error_message', 'mode', 'error_code', 'lease_owner', 'lease_expires_at'],
  saga_step_results: ['transaction_id', 'step', 'status', 'data', 'error_code', 'error_message', 'executed_at', 'kind', 'duration_ms::text'],
  transaction_logs: ['log_id', 'transaction_id', 'user_id', 'item_id', 'quantity', 'price::text', 'status', 'log_data', 'created_at'],
  notifications: ['notification_id', 'transaction_id', 'user_id', 'type', 'message', 'channels', 'status', 'sent_at', 'created_at', 'attempts'],
  saga_events: ['transaction_id', 'event_type', 'payload', 'created_at', 'delivered_at'],
  operator_audit: ['id::text', 'at', 'os_user', 'host', 'action', 'transaction_id', 'reason', 'outcome', 'details'],
  ledger: ['at', 'xact::text', 'db_user', 'application', 'account', 'account_id', 'delta::text', 'after::text', 'source', 'transaction_id',
    'step', 'kind', 'audit_id::text'],
} as const;

/** json_build_object of a row (alias) of a table, with the archive's columns. */
function rowOf(table: keyof typeof ARCHIVE_COLUMNS, alias: string): string {
  return `json_build_object(${ARCHIVE_COLUMNS[table].map((c) => `'${c.replace('::text', '')}', ${alias}.${c}`).join(', ')})`;
}

/**
 * The rows of a child table for the selected sagas, aggregated per saga: joined to the sagas, not
 * looked up saga by saga. The planner then reads each table in one pass (a hash or merge join) for
 * a large export, or through its transaction_id index for a narrow one; a lookup per saga costs
 * one random read of each table per saga, and fell to 1/7 of COPY's speed at 100,000 sagas.
 */
function childrenOf(table: keyof typeof ARCHIVE_COLUMNS, alias: string, order: string, where: string, extra = ''): string {
  return `LEFT JOIN (SELECT ${alias}.transaction_id AS id, json_agg(${rowOf(table, alias)} ORDER BY ${alias}.${order}) AS v
      FROM ${table} ${alias}
     WHERE ${alias}.transaction_id IN (SELECT s.transaction_id FROM saga_states s WHERE ${where})${extra}
     GROUP BY 1) ${alias}_ ON ${alias}_.id = s.transaction_id`;
}

const CHILDREN = [
  ['steps', 'saga_step_results', 'r', 'id', ''],
  ['logs', 'transaction_logs', 't', 'log_id', ''],
  ['notifications', 'notifications', 'n', 'notification_id', ''],
  ['events', 'saga_events', 'e', 'id', ''],
  ['audit', 'operator_audit', 'a', 'id', ''],
  ['ledger', 'ledger', 'l', 'id', ` AND l.source = 'saga'`],
] as const;

/**
 * One line of JSON text (`line`) per saga that `where` (over saga_states s, FILTERS' parameters)
 * selects, with everything it wrote.
 */
export function sagaLinesSql(where: string): string {
  return `SELECT json_build_object('type', 'saga', 'saga', ${rowOf('saga_states', 's')},
    ${CHILDREN.map(([key, , alias]) => `'${key}', COALESCE(${alias}_.v, '[]')`).join(', ')})::text AS line
  FROM saga_states s
  ${CHILDREN.map(([, table, alias, order, extra]) => childrenOf(table, alias, order, where, extra)).join('\n  ')}
 WHERE ${where}`;
}

const ledgerOf = (where: string) => `COALESCE((SELECT json_agg(${rowOf('ledger', 'l')} ORDER BY l.id) FROM ledger l WHERE ${where}), '[]')`;

/** One saga (alias s) with everything it wrote, looked up by id: what import compares an existing saga by. */
export const SAGA_RECORD_SQL = `json_build_object('type', 'saga', 'saga', ${rowOf('saga_states', 's')},
  ${CHILDREN.map(([key, table, alias, order, extra]) => `'${key}', COALESCE((SELECT json_agg(${rowOf(table, alias)} ORDER BY ${alias}.${order})
    FROM ${table} ${alias} WHERE ${alias}.transaction_id = s.transaction_id${extra}), '[]')`).join(',\n  ')})::text`;

/** A users row (alias u) and an items row (alias i) as the archive writes them. */
export const USER_ROW_SQL = rowOf('users', 'u');
export const ITEM_ROW_SQL = rowOf('items', 'i');

/** A user (alias u) and its ledger entries that no saga made (openings, seeds, adjustments). */
export const USER_RECORD_SQL = `json_build_object('type', 'user', 'user', ${USER_ROW_SQL},
  'ledger', ${ledgerOf(`l.account = 'user' AND l.account_id = u.user_id AND l.source <> 'saga'`)})::text`;

/** An item (alias i) and its ledger entries that no saga made. */
export const ITEM_RECORD_SQL = `json_build_object('type', 'item', 'item', ${ITEM_ROW_SQL},
  'ledger', ${ledgerOf(`l.account = 'item' AND l.account_id = i.item_id AND l.source <> 'saga'`)})::text`;

/** The flat CSV of `--format csv`: one row per saga, for spreadsheets; import reads ndjson only. */
export const SAGA_CSV_SQL = `s.transaction_id, s.status, s.mode, s.user_id, s.item_id, s.quantity, s.price, s.price * s.quantity AS total,
  s.error_code, s.error_message, s.created_at, s.updated_at, s.completed_at,
  (SELECT count(*) FROM saga_step_results r WHERE r.transaction_id = s.transaction_id) AS steps,
  (SELECT r.step || ':' || r.kind || ':' || r.status FROM saga_step_results r WHERE r.transaction_id = s.transaction_id
    ORDER BY r.id DESC LIMIT 1) AS last_step`;
