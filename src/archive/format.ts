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

/** A ledger row as JSON: amounts and ids as text. `where` selects the rows (alias l). */
const ledgerRows = (where: string) => `COALESCE((SELECT jsonb_agg((to_jsonb(l) - 'id') || jsonb_build_object(
    'delta', l.delta::text, 'after', l.after::text, 'xact', l.xact::text, 'audit_id', l.audit_id::text) ORDER BY l.id)
  FROM ledger l WHERE ${where}), '[]'::jsonb)`;

/** One saga (alias s) with everything it wrote, as one line of JSON text. */
export const SAGA_RECORD_SQL = `json_build_object('type', 'saga',
  'saga', to_jsonb(s) || jsonb_build_object('price', s.price::text),
  'steps', COALESCE((SELECT jsonb_agg((to_jsonb(r) - 'id') || jsonb_build_object('duration_ms', r.duration_ms::text) ORDER BY r.id)
                       FROM saga_step_results r WHERE r.transaction_id = s.transaction_id), '[]'::jsonb),
  'logs', COALESCE((SELECT jsonb_agg(to_jsonb(t) || jsonb_build_object('price', t.price::text) ORDER BY t.log_id)
                      FROM transaction_logs t WHERE t.transaction_id = s.transaction_id), '[]'::jsonb),
  'notifications', COALESCE((SELECT jsonb_agg(to_jsonb(n) ORDER BY n.notification_id)
                               FROM notifications n WHERE n.transaction_id = s.transaction_id), '[]'::jsonb),
  'events', COALESCE((SELECT jsonb_agg(to_jsonb(e) - 'id' ORDER BY e.id)
                        FROM saga_events e WHERE e.transaction_id = s.transaction_id), '[]'::jsonb),
  'audit', COALESCE((SELECT jsonb_agg(to_jsonb(a) || jsonb_build_object('id', a.id::text) ORDER BY a.id)
                       FROM operator_audit a WHERE a.transaction_id = s.transaction_id), '[]'::jsonb),
  'ledger', ${ledgerRows(`l.transaction_id = s.transaction_id AND l.source = 'saga'`)})::text`;

/** A users row (alias u) and an items row (alias i) as the archive writes them. */
export const USER_ROW_SQL = `to_jsonb(u) || jsonb_build_object('balance', u.balance::text, 'purchase_limit', u.purchase_limit::text)`;
export const ITEM_ROW_SQL = `to_jsonb(i) || jsonb_build_object('price', i.price::text)`;

/** A user (alias u) and its ledger entries that no saga made (openings, seeds, adjustments). */
export const USER_RECORD_SQL = `json_build_object('type', 'user',
  'user', ${USER_ROW_SQL},
  'ledger', ${ledgerRows(`l.account = 'user' AND l.account_id = u.user_id AND l.source <> 'saga'`)})::text`;

/** An item (alias i) and its ledger entries that no saga made. */
export const ITEM_RECORD_SQL = `json_build_object('type', 'item',
  'item', ${ITEM_ROW_SQL},
  'ledger', ${ledgerRows(`l.account = 'item' AND l.account_id = i.item_id AND l.source <> 'saga'`)})::text`;

/** The flat CSV of `--format csv`: one row per saga, for spreadsheets; import reads ndjson only. */
export const CSV_COLUMNS = ['transaction_id', 'status', 'mode', 'user_id', 'item_id', 'quantity', 'price', 'total', 'error_code',
  'error_message', 'created_at', 'updated_at', 'completed_at', 'steps', 'last_step'] as const;

export const SAGA_CSV_SQL = `ARRAY[s.transaction_id, s.status, s.mode, s.user_id, s.item_id, s.quantity::text, s.price::text,
  (s.price * s.quantity)::text, s.error_code, s.error_message, s.created_at::text, s.updated_at::text, s.completed_at::text,
  (SELECT count(*) FROM saga_step_results r WHERE r.transaction_id = s.transaction_id)::text,
  (SELECT r.step || ':' || r.kind || ':' || r.status FROM saga_step_results r WHERE r.transaction_id = s.transaction_id
    ORDER BY r.id DESC LIMIT 1)] AS row`;

/** RFC 4180: a field is quoted when it holds a comma, a quote or a line break; quotes doubled. */
export function csvLine(fields: readonly (string | null)[]): string {
  return fields.map((f) => (f === null ? '' : /[",\r\n]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(',') + '\n';
}
