import { centsToText, toCents } from '../money';
import { ERROR_MESSAGES, ErrorCode, StepKind, StepName } from '../saga/types';
import { GeneratedSaga, NUL, timestampText } from './generate';

/**
 * What a generated saga did, as the engine would have recorded it: its step records, its log and
 * notification, its outbox events (choreography), and its ledger movements, each a COPY text line.
 * A pure function of the saga, so generated history is as deterministic as the sagas themselves.
 */
interface StepRecord {
  step: StepName;
  kind: StepKind;
  ok: boolean;
  code?: ErrorCode;
}

const ok = (step: StepName, kind: StepKind = 'forward'): StepRecord => ({ step, kind, ok: true });
const failed = (step: StepName, code: ErrorCode): StepRecord => ({ step, kind: 'forward', ok: false, code });

/** The records a saga in this status and with this error leaves, in the order they were written. */
export function recordsOf(s: Pick<GeneratedSaga, 'status' | 'code'>): StepRecord[] {
  switch (s.status) {
    case 'completed': return [ok('validate_user'), ok('reserve_inventory'), ok('log_transaction'), ok('send_notification')];
    case 'failed': return [failed('validate_user', s.code!)];
    case 'compensated': return [ok('validate_user'), failed('reserve_inventory', s.code!), ok('validate_user', 'compensation')];
    // The log failed; the stock came back; the refund could not be applied (no record): an operator's case.
    case 'compensation_failed': return [ok('validate_user'), ok('reserve_inventory'), failed('log_transaction', 'LOG_FAILED'),
      ok('reserve_inventory', 'compensation')];
    case 'in_progress': return [ok('validate_user')];
    case 'compensating': return [ok('validate_user'), failed('reserve_inventory', 'INSUFFICIENT_STOCK')];
    default: return []; // pending: nothing ran
  }
}

/** The next event a choreography saga still in flight waits for. */
function waitingFor(s: GeneratedSaga): string | undefined {
  if (s.mode !== 'choreography') return undefined;
  if (s.status === 'in_progress') return 'reserve_inventory.run';
  if (s.status === 'compensating') return 'validate_user.compensate';
  return undefined;
}

export interface HistoryLines {
  steps: string;
  logs: string;
  notifications: string;
  events: string;
  ledger: string;
}

export type HistoryTable = 'saga_step_results' | 'transaction_logs' | 'notifications' | 'saga_events' | 'ledger';

/** Each history table's columns, in the order of its COPY lines. */
export const HISTORY_COLUMNS: Record<HistoryTable, string> = {
  saga_step_results: 'transaction_id, step, kind, status, error_code, error_message, data, executed_at, duration_ms',
  transaction_logs: 'log_id, transaction_id, user_id, item_id, quantity, price, status, log_data, created_at',
  notifications: 'notification_id, transaction_id, user_id, type, message, channels, status, sent_at, created_at',
  saga_events: 'transaction_id, event_type, payload, created_at, delivered_at',
  ledger: 'at, xact, db_user, application, account, account_id, delta, after, source, transaction_id, step, kind',
};

const FIELD: Record<HistoryTable, keyof HistoryLines> = {
  saga_step_results: 'steps', transaction_logs: 'logs', notifications: 'notifications', saga_events: 'events', ledger: 'ledger',
};

/** The COPY lines of one saga's history for one table. */
export function historyOf(s: GeneratedSaga, table: HistoryTable, xact: string): string {
  return historyLines(s, xact, FIELD[table])[FIELD[table]];
}

/**
 * The COPY lines of one saga's history (only `only`'s when given: a load writes one table at a
 * time); `xact` is the loading transaction's id, stamped on its ledger rows.
 */
export function historyLines(s: GeneratedSaga, xact: string, only?: keyof HistoryLines): HistoryLines {
  const records = recordsOf(s);
  const total = centsToText(toCents(s.price) * BigInt(s.quantity));
  const at = (i: number) => s.createdUs + Math.floor(((i + 1) * (s.updatedUs - s.createdUs)) / (records.length + 1));
  const out: HistoryLines = { steps: '', logs: '', notifications: '', events: '', ledger: '' };
  const wants = (field: keyof HistoryLines) => only === undefined || only === field;
  records.forEach((r, i) => {
    const when = timestampText(at(i));
    if (wants('steps')) out.steps += [s.id, r.step, r.kind, r.ok ? 'succeeded' : 'failed', r.code ?? NUL, r.code ? ERROR_MESSAGES[r.code] : NUL,
      JSON.stringify(dataOf(r, s, total)), when, '1.000'].join('\t') + '\n';
    if (wants('events') && s.mode === 'choreography' && i > 0) {
      out.events += [s.id, `${r.step}.${r.kind === 'forward' ? 'run' : 'compensate'}`, '{}', `${when}Z`, `${when}Z`].join('\t') + '\n';
    }
    const move = r.ok && wants('ledger') ? movement(r, s, total) : undefined;
    if (move) {
      out.ledger += [`${when}Z`, xact, 'sagactl', 'sagactl seed generate', move.account, move.id, move.delta, NUL, 'saga', s.id,
        r.step, r.kind].join('\t') + '\n';
    }
    if (wants('logs') && r.ok && r.kind === 'forward' && r.step === 'log_transaction') {
      out.logs += [`log-${s.id}`, s.id, s.userId, s.itemId, s.quantity, s.price, 'logged',
        JSON.stringify({ total, mode: s.mode }), when].join('\t') + '\n';
    }
    if (wants('notifications') && r.ok && r.kind === 'forward' && r.step === 'send_notification') {
      out.notifications += [`ntf-${s.id}`, s.id, s.userId, 'purchase_completed', `Purchased ${s.quantity} x ${s.itemId} for ${total}`,
        '["email", "push"]', 'sent', when, when].join('\t') + '\n';
    }
  });
  const waiting = waitingFor(s);
  if (waiting && wants('events')) out.events += [s.id, waiting, '{}', `${timestampText(s.updatedUs)}Z`, NUL].join('\t') + '\n';
  return out;
}

function dataOf(r: StepRecord, s: GeneratedSaga, total: string): Record<string, unknown> {
  if (r.step === 'validate_user') return r.kind === 'forward' ? { amount: total } : { refunded: total };
  if (r.step === 'reserve_inventory') return r.kind === 'forward' ? { quantity: s.quantity } : { restocked: s.quantity };
  if (r.step === 'log_transaction') return { logId: r.ok ? `log-${s.id}` : null };
  return { notificationId: `ntf-${s.id}`, channels: ['email', 'push'] };
}

function movement(r: StepRecord, s: GeneratedSaga, total: string): { account: string; id: string; delta: string } | undefined {
  const sign = r.kind === 'forward' ? '-' : '';
  if (r.step === 'validate_user') return { account: 'user', id: s.userId, delta: `${sign}${total}` };
  if (r.step === 'reserve_inventory') return { account: 'item', id: s.itemId, delta: `${sign}${s.quantity}` };
  return undefined;
}
