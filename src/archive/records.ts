import { ARCHIVE_FORMAT, AccountRecord, READABLE_VERSIONS, EndRecord, HeaderRecord, SagaRecord } from './format';
import { LEDGER_SOURCES, MODES, SAGA_STATUS, STEPS } from '../saga/types';

/**
 * Reads one line of an archive (src/archive/format.ts) into a typed record, or says what is wrong
 * with it. Checks the shape, the keys, ids, amounts and vocabularies, so a bad line is named
 * before anything of it reaches the database; the database's own constraints check the rest.
 */
export type ArchiveRecord = HeaderRecord | AccountRecord | SagaRecord | EndRecord;

export class BadRecord extends Error {}

type Row = Record<string, unknown>;

const NOT_AN_ARCHIVE = 'the first line must be the archive header ({"type":"header","format":"sagactl-archive",...}): ' +
  'is this a saga export in ndjson? (import does not read --format csv)';
const AMOUNT = /^-?\d{1,12}(\.\d{1,2})?$/;
const STATUSES = Object.values(SAGA_STATUS) as string[];

function fail(why: string): never {
  throw new BadRecord(why);
}

function object(v: unknown, what: string): Row {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`${what} must be a JSON object`);
  return v as Row;
}

function rows(v: unknown, what: string): Row[] {
  if (!Array.isArray(v)) fail(`${what} must be a JSON array`);
  return v.map((r, i) => object(r, `${what}[${i}]`));
}

function text(row: Row, key: string, what: string, max: number): string {
  const v = row[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > max) fail(`${what}.${key} must be a string of 1 to ${max} characters`);
  return v;
}

function amount(row: Row, key: string, what: string, nullable = false): void {
  const v = row[key];
  // Version 2 leaves a null column out.
  if (nullable && (v === null || v === undefined)) return;
  // Amounts are strings in the format: a JSON number would have passed through a float somewhere.
  if (typeof v !== 'string' || !AMOUNT.test(v)) fail(`${what}.${key} must be an amount as a string ("12.50"), got ${JSON.stringify(v)}`);
}

function oneOf(row: Row, key: string, what: string, allowed: readonly string[]): void {
  if (!allowed.includes(row[key] as string)) fail(`${what}.${key} must be one of ${allowed.join(', ')}, got ${JSON.stringify(row[key])}`);
}

function positiveInt(row: Row, key: string, what: string): void {
  const v = row[key];
  if (!Number.isSafeInteger(v) || (v as number) <= 0) fail(`${what}.${key} must be a positive integer, got ${JSON.stringify(v)}`);
}

function ledger(v: unknown, what: string, account?: { kind: string; id: string }, saga?: string): Row[] {
  const entries = rows(v, what);
  entries.forEach((l, i) => {
    const w = `${what}[${i}]`;
    amount(l, 'delta', w);
    amount(l, 'after', w, true);
    oneOf(l, 'source', w, LEDGER_SOURCES);
    oneOf(l, 'account', w, ['user', 'item']);
    text(l, 'account_id', w, 50);
    if (account && (l.account !== account.kind || l.account_id !== account.id)) fail(`${w} belongs to ${l.account} ${l.account_id}, not to this ${account.kind}`);
    if (saga !== undefined && (l.source !== 'saga' || l.transaction_id !== saga)) fail(`${w} is not a movement of saga ${saga}`);
    if (saga === undefined && l.source === 'saga') fail(`${w} is a saga's movement: it belongs in that saga's record`);
    if (typeof l.xact !== 'string' || !/^\d+$/.test(l.xact)) fail(`${w}.xact must be a transaction id as a string`);
  });
  return entries;
}

function header(r: Row): HeaderRecord {
  if (r.format !== ARCHIVE_FORMAT) fail(`not a sagactl archive: the header's format is ${JSON.stringify(r.format)}, not "${ARCHIVE_FORMAT}"`);
  if (!READABLE_VERSIONS.includes(r.version as number)) {
    fail(`archive version ${JSON.stringify(r.version)} is not one this sagactl reads (it reads versions ${READABLE_VERSIONS.join(' and ')})`);
  }
  return r as unknown as HeaderRecord;
}

function user(r: Row): AccountRecord {
  const u = object(r.user, 'user');
  const id = text(u, 'user_id', 'user', 50);
  text(u, 'name', 'user', 100);
  amount(u, 'balance', 'user');
  amount(u, 'purchase_limit', 'user');
  oneOf(u, 'status', 'user', ['active', 'suspended', 'inactive']);
  return { type: 'user', user: u, ledger: ledger(r.ledger, 'ledger', { kind: 'user', id }) };
}

function item(r: Row): AccountRecord {
  const it = object(r.item, 'item');
  const id = text(it, 'item_id', 'item', 50);
  text(it, 'name', 'item', 100);
  amount(it, 'price', 'item');
  if (!Number.isSafeInteger(it.stock) || (it.stock as number) < 0) fail(`item.stock must be a whole number >= 0, got ${JSON.stringify(it.stock)}`);
  if (typeof it.is_available !== 'boolean') fail('item.is_available must be true or false');
  return { type: 'item', item: it, ledger: ledger(r.ledger, 'ledger', { kind: 'item', id }) };
}

function saga(r: Row): SagaRecord {
  const s = object(r.saga, 'saga');
  const id = text(s, 'transaction_id', 'saga', 100);
  oneOf(s, 'status', 'saga', STATUSES);
  oneOf(s, 'mode', 'saga', MODES);
  text(s, 'user_id', 'saga', 50);
  text(s, 'item_id', 'saga', 50);
  positiveInt(s, 'quantity', 'saga');
  amount(s, 'price', 'saga');
  const steps = rows(r.steps, 'steps');
  steps.forEach((st, i) => {
    oneOf(st, 'step', `steps[${i}]`, STEPS);
    oneOf(st, 'kind', `steps[${i}]`, ['forward', 'compensation']);
    oneOf(st, 'status', `steps[${i}]`, ['succeeded', 'failed']);
  });
  // Version 2 leaves out the transaction_id of a saga's own rows: it is the saga's, and is put back.
  const belongs = (list: Row[], what: string) => list.forEach((x, i) => {
    if (x.transaction_id === undefined) x.transaction_id = id;
    else if (x.transaction_id !== id) fail(`${what}[${i}].transaction_id is ${JSON.stringify(x.transaction_id)}, not this saga's "${id}"`);
  });
  const logs = rows(r.logs, 'logs');
  logs.forEach((l, i) => amount(l, 'price', `logs[${i}]`));
  const notifications = rows(r.notifications, 'notifications');
  const events = rows(r.events, 'events');
  const audit = rows(r.audit, 'audit');
  audit.forEach((a, i) => {
    if (typeof a.id !== 'string' || !/^\d+$/.test(a.id)) fail(`audit[${i}].id must be the audit row's id as a string`);
  });
  const movements = rows(r.ledger, 'ledger');
  for (const [list, what] of [[steps, 'steps'], [logs, 'logs'], [notifications, 'notifications'], [events, 'events'], [audit, 'audit'],
    [movements, 'ledger']] as const) {
    belongs(list, what);
  }
  return { type: 'saga', saga: s, steps, logs, notifications, events, audit, ledger: ledger(movements, 'ledger', undefined, id) };
}

function end(r: Row): EndRecord {
  for (const key of ['users', 'items', 'sagas']) {
    if (!Number.isSafeInteger(r[key]) || (r[key] as number) < 0) fail(`end.${key} must be a count`);
  }
  return r as unknown as EndRecord;
}

/** One line as a record; throws BadRecord saying why. The first line must be the header. */
export function parseRecord(line: string, first: boolean): ArchiveRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (err) {
    fail(`not JSON (${(err as Error).message})${first ? `; ${NOT_AN_ARCHIVE}` : ''}`);
  }
  const r = object(parsed, 'a record');
  if (first && r.type !== 'header') fail(NOT_AN_ARCHIVE);
  if (!first && r.type === 'header') fail('a second header: two archives pasted together?');
  switch (r.type) {
    case 'header': return header(r);
    case 'user': return user(r);
    case 'item': return item(r);
    case 'saga': return saga(r);
    case 'end': return end(r);
    default: return fail(`unknown record type ${JSON.stringify(r.type)} (header, user, item, saga, end)`);
  }
}
