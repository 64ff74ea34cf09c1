import { Tx } from '../db/pool';
import { markStatsDirty, returnPruned } from '../stats/rollup';
import { AccountRecord, ITEM_ROW_SQL, SAGA_RECORD_SQL, SagaRecord, USER_ROW_SQL } from './format';

/**
 * Writes one batch of archive records in the caller's transaction: each user, item and saga that
 * is new goes in; one that exists with the same contents is skipped; one that exists with other
 * contents is refused (and left as it is). Everything goes through jsonb_populate_recordset: the
 * records travel as one JSON parameter, amounts as text, and the server casts them.
 *
 * The ledger stays honest the way `seed generate` keeps it: a new account's balance or stock is
 * written by its INSERT, which the ledger's trigger records under the declared source `seed`; the
 * entries the archive carries (the account's openings and adjustments, each saga's movements)
 * are copied as they were; and one `seed` entry per account then takes back what was copied, so
 * every balance and stock still equals the sum of its entries, and every saga step still has
 * exactly its movement.
 */
export interface Pending { line: number; record: AccountRecord | SagaRecord }

export type Kind = 'user' | 'item' | 'saga';

export interface BatchOutcome {
  imported: Record<Kind, number>;
  skipped: Record<Kind, number>;
  refused: { line: number; type: Kind; id: string; why: string }[];
}

type Row = Record<string, unknown>;

const TABLES = {
  user: { table: 'users', key: 'user_id', alias: 'u', row: USER_ROW_SQL },
  item: { table: 'items', key: 'item_id', alias: 'i', row: ITEM_ROW_SQL },
} as const;

/** Each table's column list, read once per import: the caller keeps one for the run. */
export type ColumnCache = Map<string, string>;

/** The columns a table takes on import: all but generated ids (the archive leaves them out). */
async function columnsOf(tx: Tx, known: ColumnCache, table: string): Promise<string> {
  const cached = known.get(table);
  if (cached !== undefined) return cached;
  const { rows: [{ cols }] } = await tx.query(
    `SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) AS cols FROM pg_attribute
      WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped AND attidentity = '' AND attgenerated = ''
        AND NOT (attname = 'id' AND $1::text = 'saga_step_results')`, [table]);
  known.set(table, cols);
  return cols;
}

async function insertRows(tx: Tx, known: ColumnCache, table: string, rows: Row[]): Promise<void> {
  if (rows.length === 0) return;
  const cols = await columnsOf(tx, known, table);
  await tx.query(`INSERT INTO ${table} (${cols}) SELECT ${cols} FROM jsonb_populate_recordset(NULL::${table}, $1::jsonb)`,
    [JSON.stringify(rows)]);
}

/** Key order and generated ids do not make two records different. */
function canonical(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Row)[k])]));
  };
  return JSON.stringify(sort(value));
}

/** A row's columns that are not null: version 1 wrote a null column, version 2 leaves it out. */
const present = (row: Row): Row => Object.fromEntries(Object.entries(row).filter(([, v]) => v !== null && v !== undefined));

/** A saga's own row without its transaction_id, which is the saga's (version 2 leaves it out). */
const own = ({ transaction_id: _t, ...row }: Row): Row => present(row);

function sagaContents(r: SagaRecord): string {
  return canonical({
    saga: present(r.saga), steps: r.steps.map(own), logs: r.logs.map(own), notifications: r.notifications.map(own), events: r.events.map(own),
    audit: r.audit.map(({ id: _id, ...a }) => own(a)), ledger: r.ledger.map(({ audit_id: _a, ...l }) => own(l)),
  });
}

export async function writeBatch(tx: Tx, batch: Pending[], known: ColumnCache): Promise<BatchOutcome> {
  const out: BatchOutcome = { imported: { user: 0, item: 0, saga: 0 }, skipped: { user: 0, item: 0, saga: 0 }, refused: [] };
  // No JIT: the lookup of existing sagas is one large expression whose cost estimate passes
  // jit_above_cost, and compiling it took 0.8 s per batch of 500, more than writing the batch.
  await tx.query(`SELECT set_config('sagactl.source', 'seed', true), set_config('jit', 'off', true)`);
  const ledger: Row[] = [];
  for (const kind of ['user', 'item'] as const) {
    const t = TABLES[kind];
    const fresh = await classify(tx, batch, kind, (p) => (p.record as AccountRecord)[kind]![t.key] as string,
      (p) => canonical(present((p.record as AccountRecord)[kind]!)),
      `SELECT ${t.alias}.${t.key} AS id, (${t.row})::text AS contents FROM ${t.table} ${t.alias} WHERE ${t.alias}.${t.key} = ANY($1::text[])`,
      out);
    await insertRows(tx, known, t.table, fresh.map((p) => (p.record as AccountRecord)[kind]!));
    for (const p of fresh) ledger.push(...p.record.ledger);
  }
  const sagas = await classify(tx, batch, 'saga', (p) => (p.record as SagaRecord).saga.transaction_id as string,
    (p) => sagaContents(p.record as SagaRecord),
    `SELECT s.transaction_id AS id, ${SAGA_RECORD_SQL} AS contents FROM saga_states s WHERE s.transaction_id = ANY($1::text[])`, out);
  const records = sagas.map((p) => p.record as SagaRecord);
  await insertRows(tx, known, 'saga_states', records.map((r) => r.saga));
  for (const [table, field] of [['saga_step_results', 'steps'], ['transaction_logs', 'logs'], ['notifications', 'notifications'],
    ['saga_events', 'events']] as const) {
    await insertRows(tx, known, table, records.flatMap((r) => r[field]));
  }
  for (const r of records) ledger.push(...(await insertAudit(tx, known, r)));
  await insertLedger(tx, known, ledger);
  // Back-dated sagas land in minutes the statistics may have rolled up already: those fold again,
  // counting these from their rows, no longer from what a prune kept of them.
  const ids = records.map((r) => r.saga.transaction_id as string);
  await returnPruned(tx, ids);
  await markStatsDirty({ query: async (sql, params) => (await tx.query(sql, params)).rows }, ids);
  return out;
}

/**
 * Splits the batch's records of one kind: new ones are returned (to insert), existing ones are
 * compared with what the database holds, by the same expression export wrote them with.
 */
async function classify(tx: Tx, batch: Pending[], kind: Kind, idOf: (p: Pending) => string, contentsOf: (p: Pending) => string,
  existingSql: string, out: BatchOutcome): Promise<Pending[]> {
  const mine = batch.filter((p) => p.record.type === kind);
  if (mine.length === 0) return [];
  const { rows } = await tx.query<{ id: string; contents: string }>(existingSql, [mine.map(idOf)]);
  // Contents are made canonical only to compare with a record held: most of an import is new.
  const held = new Map<string, () => string>(rows.map((r) => [r.id,
    () => (kind === 'saga' ? sagaContents(JSON.parse(r.contents)) : canonical(present(JSON.parse(r.contents))))]));
  const fresh: Pending[] = [];
  for (const p of mine) {
    const id = idOf(p);
    const there = held.get(id);
    if (there === undefined) {
      fresh.push(p);
      held.set(id, () => contentsOf(p)); // a second record of the same id in this batch compares with the first
    } else if (there() === contentsOf(p)) out.skipped[kind] += 1;
    else out.refused.push({ line: p.line, type: kind, id, why: `${kind} ${id} exists with other contents; it was left as it is` });
  }
  out.imported[kind] += fresh.length;
  return fresh;
}

/**
 * The saga's audit rows get new ids, and its ledger movements are pointed at them. The audit
 * outlives a prune: restoring a pruned saga into the database it came from finds its audit rows
 * still there (same moment, action, outcome and reason) and uses them instead of copies.
 */
async function insertAudit(tx: Tx, known: ColumnCache, r: SagaRecord): Promise<Row[]> {
  const ids = new Map<string, string>();
  if (r.audit.length > 0) {
    const cols = await columnsOf(tx, known, 'operator_audit');
    for (const a of r.audit) {
      const { rows: [row] } = await tx.query(
        `WITH a AS (SELECT * FROM jsonb_populate_record(NULL::operator_audit, $1::jsonb)),
              held AS (SELECT o.id FROM operator_audit o, a WHERE o.transaction_id = a.transaction_id AND o.at = a.at
                          AND o.action = a.action AND o.outcome = a.outcome AND o.reason = a.reason ORDER BY o.id LIMIT 1),
              added AS (INSERT INTO operator_audit (${cols}) SELECT ${cols} FROM a WHERE NOT EXISTS (SELECT 1 FROM held) RETURNING id)
         SELECT id::text AS id FROM held UNION ALL SELECT id::text FROM added`,
        [JSON.stringify(a)]);
      ids.set(a.id as string, row.id);
    }
  }
  // A movement that named an audit row outside this saga (a bulk action's) keeps no link.
  return r.ledger.map((l) => ({ ...l, audit_id: l.audit_id == null ? null : (ids.get(l.audit_id as string) ?? null) }));
}

/** Copies the archive's ledger entries, then takes each account's copied sum back under `seed`. */
async function insertLedger(tx: Tx, known: ColumnCache, entries: Row[]): Promise<void> {
  if (entries.length === 0) return;
  const cols = await columnsOf(tx, known, 'ledger');
  await tx.query(`WITH copied AS (
      INSERT INTO ledger (${cols}) SELECT ${cols} FROM jsonb_populate_recordset(NULL::ledger, $1::jsonb) RETURNING account, account_id, delta)
    INSERT INTO ledger (at, xact, db_user, application, account, account_id, delta, source)
    SELECT now(), pg_current_xact_id()::text::bigint, session_user, left(current_setting('application_name'), 100), account, account_id,
           -sum(delta), 'seed'
      FROM copied GROUP BY account, account_id HAVING sum(delta) <> 0`, [JSON.stringify(entries)]);
}
