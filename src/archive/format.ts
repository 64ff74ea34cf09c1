/**
 * The archive format of `saga export`, `saga import` and `saga prune --archive` (docs/runbook.md,
 * "Backup, restore and retention"): newline-delimited JSON, one record a line.
 *
 *   {"type":"header","format":"sagactl-archive","version":2,"exportedAt":...,"filter":{...}}
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
 * file from a cut one.
 *
 * Version 2 leaves out what a reader knows anyway: a column that is null (an absent key reads as
 * null, as in jq), and the transaction_id of a saga's own rows (steps, logs and the rest: it is
 * the saga's). That is a fifth less to build and send. Version 1 wrote both; a reader takes
 * either and refuses a version it does not know.
 */
export const ARCHIVE_FORMAT = 'sagactl-archive';
export const ARCHIVE_VERSION = 2;
export const READABLE_VERSIONS = [1, 2];

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
 * Each table's columns as the archive writes them, and how each becomes JSON:
 *   text    any value, escaped by to_json: text, timestamps (ISO 8601);
 *   word    a vocabulary the schema's CHECK constraints hold to a list of plain words: quoted as it is;
 *   string  a number written as a JSON string ("12.50"): money, ledger amounts, durations, big ids;
 *   raw     a value whose text is JSON already: integers, booleans, jsonb.
 * Generated ids are left out. A column added to one of these tables must be added here
 * (test/integration/archive-backup.test.ts checks).
 */
type ColumnKind = 'text' | 'word' | 'string' | 'raw';

export const ARCHIVE_COLUMNS = {
  users: { user_id: 'text', name: 'text', balance: 'string', status: 'word', purchase_limit: 'string', created_at: 'text', updated_at: 'text' },
  items: { item_id: 'text', name: 'text', price: 'string', stock: 'raw', is_available: 'raw', created_at: 'text', updated_at: 'text' },
  saga_states: { transaction_id: 'text', status: 'word', user_id: 'text', item_id: 'text', quantity: 'raw', price: 'string', created_at: 'text',
    updated_at: 'text', completed_at: 'text', error_message: 'text', mode: 'word', error_code: 'word', lease_owner: 'text', lease_expires_at: 'text' },
  saga_step_results: { transaction_id: 'text', step: 'word', status: 'word', data: 'raw', error_code: 'word', error_message: 'text',
    executed_at: 'text', kind: 'word', duration_ms: 'string' },
  transaction_logs: { log_id: 'text', transaction_id: 'text', user_id: 'text', item_id: 'text', quantity: 'raw', price: 'string', status: 'word',
    log_data: 'raw', created_at: 'text' },
  notifications: { notification_id: 'text', transaction_id: 'text', user_id: 'text', type: 'text', message: 'text', channels: 'raw',
    status: 'word', sent_at: 'text', created_at: 'text', attempts: 'raw' },
  saga_events: { transaction_id: 'text', event_type: 'word', payload: 'raw', created_at: 'text', delivered_at: 'text' },
  operator_audit: { id: 'string', at: 'text', os_user: 'text', host: 'text', action: 'word', transaction_id: 'text', reason: 'text',
    outcome: 'word', details: 'raw' },
  ledger: { at: 'text', xact: 'string', db_user: 'text', application: 'text', account: 'word', account_id: 'text', delta: 'string',
    after: 'string', source: 'word', transaction_id: 'text', step: 'word', kind: 'word', audit_id: 'string' },
} satisfies Record<string, Record<string, ColumnKind>>;

// A word and a number's text hold no character JSON escapes: quoted as they are.
const quoted = (v: string) => `'"' || ${v} || '"'`;

const AS_JSON: Record<ColumnKind, (v: string) => string> = {
  text: (v) => `to_json(${v})::text`,
  word: quoted,
  string: quoted,
  raw: (v) => `${v}::text`,
};

/**
 * A row (alias) of a table as a JSON object with the archive's columns, built as text: half the
 * server's time of json_build_object, which looks up every argument's type and output function
 * again for each row (the export's cost is the server building its lines). A
 * null column is left out; `ofSaga` leaves out the transaction_id of a saga's own row.
 */
function rowOf(table: keyof typeof ARCHIVE_COLUMNS, alias: string, ofSaga = false): string {
  const columns = Object.entries(ARCHIVE_COLUMNS[table]).filter(([column]) => !(ofSaga && column === 'transaction_id'));
  const fields = columns.map(([column, kind], i) => {
    const value = AS_JSON[kind](`${alias}.${column}`);
    // The first field opens the object, null or not, so the others can each bring their own comma.
    if (i === 0) return `'{"${column}":' || COALESCE(${value}, 'null')`;
    return `CASE WHEN ${alias}.${column} IS NULL THEN '' ELSE ',"${column}":' || ${value} END`;
  });
  return `(${fields.join(' || ')} || '}')`;
}

/**
 * The rows (rowOf) of a table (alias) joined by commas, in `order`; with no order, in the order
 * the rows come in (from a sorted subquery).
 */
function arrayOf(table: keyof typeof ARCHIVE_COLUMNS, alias: string, order: string | null, ofSaga: boolean): string {
  return `string_agg(${rowOf(table, alias, ofSaga)}, ','${order === null ? '' : ` ORDER BY ${alias}.${order}`})`;
}

const array = (items: string) => `'[' || COALESCE(${items}, '') || ']'`;

/**
 * The rows of a child table for the selected sagas, aggregated per saga: joined to the sagas, not
 * looked up saga by saga. The planner then reads each table in one pass (a hash or merge join) for
 * a large export, or through its transaction_id index for a narrow one; a lookup per saga costs
 * one random read of each table per saga, and fell to 1/7 of COPY's speed at 100,000 sagas.
 * `selected` is the condition on the child's transaction_id column.
 *
 * The rows are sorted once by saga and `order` in a subquery (an incremental sort along the
 * transaction_id index), and string_agg takes them in that order: an ORDER BY inside the
 * aggregate sorts each saga's rows apart, a sort per saga and table, 15% of the export's time.
 * A subquery with ORDER BY is never merged into its query, so its order reaches the aggregate
 * (test/integration/archive-library.test.ts writes a saga's steps to disk in reverse and reads them in order).
 */
function childrenOf(table: keyof typeof ARCHIVE_COLUMNS, alias: string, order: string, selected: string, extra = ''): string {
  return `LEFT JOIN (SELECT ${alias}.transaction_id AS id, ${arrayOf(table, alias, null, true)} AS v
      FROM (SELECT * FROM ${table} ${alias} WHERE ${selected}${extra} ORDER BY ${alias}.transaction_id, ${alias}.${order}) ${alias}
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

/** A saga record's text from its saga_states row (alias s) and each child array's text. */
function sagaRecord(childArray: (child: (typeof CHILDREN)[number]) => string): string {
  return `'{"type":"saga","saga":' || ${rowOf('saga_states', 's')}
    || ${CHILDREN.map((child) => `',"${child[0]}":' || ${childArray(child)}`).join('\n    || ')} || '}'`;
}

/**
 * One line of JSON text (`line`) per saga that `sagas` (a condition over saga_states s) selects,
 * with everything it wrote. `children(column)` is the same selection as a condition on a child
 * table's transaction_id column: a semi-join on the sagas in general, but for a whole database
 * nothing (or an id range), which spares every child table a join with saga_states.
 */
export function sagaLinesSql(sagas: string, children: (column: string) => string): string {
  return `SELECT ${sagaRecord(([, , alias]) => array(`${alias}_.v`))} AS line
  FROM saga_states s
  ${CHILDREN.map(([, table, alias, order, extra]) => childrenOf(table, alias, order, children(`${alias}.transaction_id`), extra)).join('\n  ')}
 WHERE ${sagas}`;
}

/** One saga (alias s) with everything it wrote, looked up by id: what import compares an existing saga by. */
export const SAGA_RECORD_SQL = sagaRecord(([, table, alias, order, extra]) =>
  array(`(SELECT ${arrayOf(table, alias, order, true)} FROM ${table} ${alias} WHERE ${alias}.transaction_id = s.transaction_id${extra})`));

/** A users row (alias u) and an items row (alias i) as the archive writes them. */
export const USER_ROW_SQL = rowOf('users', 'u');
export const ITEM_ROW_SQL = rowOf('items', 'i');

const ledgerOf = (where: string) => array(`(SELECT ${arrayOf('ledger', 'l', 'id', false)} FROM ledger l WHERE ${where})`);

/** A user (alias u) and its ledger entries that no saga made (openings, seeds, adjustments). */
export const USER_RECORD_SQL = `'{"type":"user","user":' || ${USER_ROW_SQL}
  || ',"ledger":' || ${ledgerOf(`l.account = 'user' AND l.account_id = u.user_id AND l.source <> 'saga'`)} || '}'`;

/** An item (alias i) and its ledger entries that no saga made. */
export const ITEM_RECORD_SQL = `'{"type":"item","item":' || ${ITEM_ROW_SQL}
  || ',"ledger":' || ${ledgerOf(`l.account = 'item' AND l.account_id = i.item_id AND l.source <> 'saga'`)} || '}'`;

/** The flat CSV of `--format csv`: one row per saga, for spreadsheets; import reads ndjson only. */
export const SAGA_CSV_SQL = `s.transaction_id, s.status, s.mode, s.user_id, s.item_id, s.quantity, s.price, s.price * s.quantity AS total,
  s.error_code, s.error_message, s.created_at, s.updated_at, s.completed_at,
  (SELECT count(*) FROM saga_step_results r WHERE r.transaction_id = s.transaction_id) AS steps,
  (SELECT r.step || ':' || r.kind || ':' || r.status FROM saga_step_results r WHERE r.transaction_id = s.transaction_id
    ORDER BY r.id DESC LIMIT 1) AS last_step`;
