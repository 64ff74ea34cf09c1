import { BadRecord, parseRecord } from '../../src/archive/records';
import type { SagaRecord } from '../../src/archive/format';

/**
 * Every line of an archive is read into a typed record or refused with the reason, before any of
 * it reaches the database (the import then names the line number). One good line of each kind,
 * and each kind of damage a hand-edited or truncated archive shows.
 */
const header = { type: 'header', format: 'sagactl-archive', version: 2 };
const move = (over: object = {}) => ({ account: 'user', account_id: 'user-1', delta: '-10.00', after: '90.00', source: 'saga', xact: '812', ...over });
const saga = (over: object = {}) => ({
  type: 'saga',
  saga: { transaction_id: 'tx-1', status: 'completed', mode: 'orchestration', user_id: 'user-1', item_id: 'item-1', quantity: 1, price: '10.00' },
  steps: [{ step: 'validate_user', kind: 'forward', status: 'succeeded' }],
  logs: [{ price: '10.00' }], notifications: [], events: [], audit: [{ id: '7' }], ledger: [move()],
  ...over,
});
const user = (over: object = {}) => ({
  type: 'user', user: { user_id: 'user-1', name: 'Ann', balance: '90.00', purchase_limit: '500.00', status: 'active' },
  ledger: [move({ delta: '100.00', after: '100.00', source: 'opening' })], ...over,
});
const item = (over: object = {}) => ({
  type: 'item', item: { item_id: 'item-1', name: 'Sword', price: '10.00', stock: 4, is_available: true },
  ledger: [move({ account: 'item', account_id: 'item-1', delta: '5', after: null, source: 'seed' })], ...over,
});

const read = (record: unknown, first = false) => parseRecord(typeof record === 'string' ? record : JSON.stringify(record), first);
const why = (record: unknown, first = false) => {
  try {
    read(record, first);
  } catch (err) {
    expect(err).toBeInstanceOf(BadRecord);
    return (err as Error).message;
  }
  throw new Error('the record was read');
};

test('good lines of every kind are read; a version 2 saga gets its own id back on its rows', () => {
  expect(read(header, true)).toEqual(header);
  expect(read({ ...header, version: 1 }, true)).toMatchObject({ version: 1 });
  expect(read(user())).toMatchObject({ type: 'user', user: { user_id: 'user-1' } });
  expect(read(item())).toMatchObject({ type: 'item', item: { stock: 4 } });
  expect(read({ type: 'end', users: 1, items: 1, sagas: 0 })).toEqual({ type: 'end', users: 1, items: 1, sagas: 0 });
  const s = read(saga()) as SagaRecord;
  expect([s.steps[0].transaction_id, s.ledger[0].transaction_id, s.audit[0].transaction_id]).toEqual(['tx-1', 'tx-1', 'tx-1']);
});

test.each([
  ['not JSON at all, first line', 'id,status', true, /^not JSON \(.*\); the first line must be the archive header .*--format csv\)$/],
  ['not JSON, later line', '{"type":', false, /^not JSON \([^)]*\)$/],
  ['an array', [1], false, /^a record must be a JSON object$/],
  ['first line not a header', saga(), true, /^the first line must be the archive header/],
  ['a second header', header, false, /^a second header: two archives pasted together\?$/],
  ['another format', { ...header, format: 'pg_dump' }, true, /^not a sagactl archive: the header's format is "pg_dump"/],
  ['a future version', { ...header, version: 3 }, true, /^archive version 3 is not one this sagactl reads \(it reads versions 1 and 2\)$/],
  ['an unknown type', { type: 'order' }, false, /^unknown record type "order" \(header, user, item, saga, end\)$/],
  ['end with a bad count', { type: 'end', users: -1, items: 0, sagas: 0 }, false, /^end\.users must be a count$/],
  ['end with a count as text', { type: 'end', users: 0, items: 0, sagas: '3' }, false, /^end\.sagas must be a count$/],
])('refused: %s', (_name, record, first, message) => {
  expect(why(record, first)).toMatch(message);
});

test.each([
  ['user not an object', user({ user: 'user-1' }), 'user must be a JSON object'],
  ['user id too long', user({ user: { ...user().user, user_id: 'u'.repeat(51) } }), 'user.user_id must be a string of 1 to 50 characters'],
  ['balance as a JSON number', user({ user: { ...user().user, balance: 90 } }), 'user.balance must be an amount as a string ("12.50"), got 90'],
  ['balance with 3 decimals', user({ user: { ...user().user, balance: '1.005' } }), 'user.balance must be an amount as a string ("12.50"), got "1.005"'],
  ['unknown user status', user({ user: { ...user().user, status: 'banned' } }), 'user.status must be one of active, suspended, inactive, got "banned"'],
  ['ledger not an array', user({ ledger: {} }), 'ledger must be a JSON array'],
  ['ledger row of another account', user({ ledger: [move({ account_id: 'user-2', source: 'opening' })] }), 'ledger[0] belongs to user user-2, not to this user'],
  ['a saga movement under a user', user({ ledger: [move()] }), "ledger[0] is a saga's movement: it belongs in that saga's record"],
  ['xact as a number', user({ ledger: [move({ source: 'opening', xact: 812 })] }), 'ledger[0].xact must be a transaction id as a string'],
  ['unknown ledger source', user({ ledger: [move({ source: 'gift' })] }), 'ledger[0].source must be one of opening, seed, saga, adjustment, closing, unattributed, got "gift"'],
  ['after not an amount', user({ ledger: [move({ source: 'opening', after: 'ten' })] }), 'ledger[0].after must be an amount as a string ("12.50"), got "ten"'],
  ['negative stock', item({ item: { ...item().item, stock: -1 } }), 'item.stock must be a whole number >= 0, got -1'],
  ['fractional stock', item({ item: { ...item().item, stock: 1.5 } }), 'item.stock must be a whole number >= 0, got 1.5'],
  ['is_available as text', item({ item: { ...item().item, is_available: 'yes' } }), 'item.is_available must be true or false'],
])('refused: %s', (_name, record, message) => {
  expect(why(record)).toBe(message);
});

test.each([
  ['unknown status', saga({ saga: { ...saga().saga, status: 'done' } }), /^saga\.status must be one of .*got "done"$/],
  ['unknown mode', saga({ saga: { ...saga().saga, mode: 'batch' } }), /^saga\.mode must be one of orchestration, choreography, got "batch"$/],
  ['quantity 0', saga({ saga: { ...saga().saga, quantity: 0 } }), /^saga\.quantity must be a positive integer, got 0$/],
  ['unknown step', saga({ steps: [{ step: 'ship', kind: 'forward', status: 'succeeded' }] }), /^steps\[0\]\.step must be one of validate_user/],
  ['step row not an object', saga({ steps: ['validate_user'] }), /^steps\[0\] must be a JSON object$/],
  ['a row of another saga', saga({ events: [{ transaction_id: 'tx-2' }] }), /^events\[0\]\.transaction_id is "tx-2", not this saga's "tx-1"$/],
  ['a log price as a number', saga({ logs: [{ price: 10 }] }), /^logs\[0\]\.price must be an amount as a string/],
  ['an audit id as a number', saga({ audit: [{ id: 7 }] }), /^audit\[0\]\.id must be the audit row's id as a string$/],
  ['a movement of no saga', saga({ ledger: [move({ source: 'seed' })] }), /^ledger\[0\] is not a movement of saga tx-1$/],
  ['notifications missing', saga({ notifications: undefined }), /^notifications must be a JSON array$/],
])('refused: a saga with %s', (_name, record, message) => {
  expect(why(record)).toMatch(message);
});
