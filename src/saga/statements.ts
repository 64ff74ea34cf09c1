import { statement, Statement, UTC_NOW } from '../db/sql';
import { ERROR_MESSAGES, STEPS } from './types';
import { Phase, SAGA_STEPS, StepDefinition, UNDOABLE_STEPS, undoableBefore } from './steps';
import { PER_SAGA } from './steps/phase';

/**
 * One statement per step and per compensation, over a whole batch of sagas (arrays, unnest): each
 * saga of the batch is decided on its own (its outcome, error code, step record, status, lease,
 * outbox event, ledger claim), and the rows they share (a hot user or item) are locked and changed
 * once. A batch of one is the same statement. Built once from the step definitions; sent as named
 * prepared statements. Parameters (named, one meaning each):
 *   :ids, :modes, :injects, :events   one element per saga (events: the outbox event consumed, or null)
 *   :owner, :lease_ms                 this process's lease
 *   :lock_timeout                     how long a row lock may be waited for, in ms (local to the statement)
 * Every statement returns one row per saga, in batch order: id, acted (false: not this statement's
 * to move, e.g. another owner's, another mode, or the step recorded already), code, status and
 * saga_error (read back from the saga's row), owner (for a saga not acted on), event_id and event_type (the event emitted),
 * next_undo (after an undo: the step to undo next, decided from the records; null when none is left).
 */

const messages = Object.entries(ERROR_MESSAGES).map(([code, text]) => `WHEN '${code}' THEN '${text.replace(/'/g, "''")}'`);

/** The human message of an error code, as SQL (constants only; no value is interpolated). */
export const messageOf = (code: string) => `CASE ${code} ${messages.join(' ')} ELSE NULL END`;

const DURATION = `round((extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::numeric, 3)`;
const LEASE = `now() + :lease_ms::int * interval '1 millisecond'`;
const STEP_ORDER = `array_position(ARRAY[${STEPS.map((s) => `'${s}'`).join(', ')}]::text[], f.step::text)`;

const INPUT = `input AS (
  SELECT * FROM unnest(:ids::varchar[], :modes::varchar[], :injects::boolean[], :events::bigint[]) WITH ORDINALITY
      AS x(transaction_id, mode, inject, event_id, ord)
   -- Local to this statement's own transaction: an application's connection keeps its settings.
   WHERE set_config('lock_timeout', :lock_timeout::text, true) IS NOT NULL)`;

/**
 * The batch's sagas this statement may move: in `status`, in the mode the driver asked for, not
 * leased to another live owner, and without a record of this step yet; locked in key order (the
 * batch is walked in key order, each saga looked up and locked by its key).
 */
function lockedSagas(status: string, step: string, kind: string, guard = ''): string {
  return `s AS (
  SELECT st.transaction_id, st.user_id, st.item_id, st.quantity, st.price, st.price * st.quantity AS total, st.mode, st.status,
         st.error_code AS saga_error,
         x.inject, x.event_id, x.ord,
         st.lease_owner IS DISTINCT FROM :owner OR st.lease_expires_at < now() + :lease_ms::int * interval '0.5 millisecond' AS lease_due
    FROM (SELECT * FROM input ORDER BY transaction_id) x
   CROSS JOIN LATERAL (
     SELECT * FROM saga_states st
      WHERE st.transaction_id = x.transaction_id AND st.status = '${status}' AND st.mode = x.mode
        AND (st.lease_owner IS NULL OR st.lease_owner = :owner OR st.lease_expires_at < now())
        AND NOT EXISTS (SELECT 1 FROM saga_step_results r
                         WHERE r.transaction_id = st.transaction_id AND r.step = '${step}' AND r.kind = '${kind}' ${PER_SAGA})${guard}
        FOR NO KEY UPDATE ${PER_SAGA}) st
   ORDER BY st.transaction_id)`;
}

/** Consumes the triggering events of the sagas this statement acted on, and only theirs. */
const CONSUMED = `consumed AS (
  UPDATE saga_events e SET delivered_at = now() FROM moved m WHERE e.id = m.event_id AND e.delivered_at IS NULL RETURNING e.id)`;

function claims(phase: Phase): string {
  return phase.claim
    ? `,\nclaims AS (SELECT set_config('sagactl.ledger', COALESCE((SELECT json_agg(${phase.claim})::text FROM acted WHERE code IS NULL), '[]'), true) AS v)`
    : '';
}

/** The saga's row as it is now, for a saga of the batch this statement did not act on (alias `acted`). */
const current = (acted: string) => `LEFT JOIN LATERAL (
    SELECT c.status, c.error_code, c.lease_owner FROM saga_states c
     WHERE c.transaction_id = x.transaction_id AND ${acted}.transaction_id IS NULL ${PER_SAGA}) cur ON true`;

function result(phase: Phase, next: string): string {
  return `
SELECT x.transaction_id AS id, m.transaction_id IS NOT NULL AS acted, m.code, COALESCE(u.status, m.status, cur.status) AS status,
       CASE WHEN u.transaction_id IS NOT NULL THEN u.error_code WHEN m.transaction_id IS NOT NULL THEN m.saga_error ELSE cur.error_code END AS saga_error,
       cur.lease_owner AS owner, e.id AS event_id, e.event_type, ${next} AS next_undo
  FROM input x
  LEFT JOIN moved m ON m.transaction_id = x.transaction_id
  LEFT JOIN upd u ON u.transaction_id = x.transaction_id
  LEFT JOIN emit e ON e.transaction_id = x.transaction_id
  ${current('m')}${phase.claim ? '\n CROSS JOIN claims' : ''}
 ORDER BY x.ord`;
}

/** A forward step after the first. A rejection turns the saga to compensating; the last step completes it. */
export function forwardStatement(step: StepDefinition): Statement {
  const phase = step.forward;
  if (!phase) throw new Error(`${step.name} has no forward phase of its own`);
  const next = SAGA_STEPS[SAGA_STEPS.indexOf(step) + 1];
  const undo = undoableBefore(step.name)[0];
  if (!step.neverCompensates && !undo) throw new Error(`${step.name} can fail but has nothing to undo before it`);
  const last = next === undefined;
  const advances = step.neverCompensates ? 'true' : 'a.code IS NULL';
  const ends = `(${advances} AND ${last})`;
  return statement(`saga_fwd_${step.name}`, `
WITH ${INPUT},
${lockedSagas('in_progress', step.name, 'forward')},${phase.decide},
res AS (
  INSERT INTO saga_step_results (transaction_id, step, kind, status, error_code, error_message, data, duration_ms, executed_at)
  SELECT transaction_id, '${step.name}', 'forward', CASE WHEN code IS NULL THEN 'succeeded' ELSE 'failed' END, code, ${messageOf('code')},
         ${phase.data} || CASE WHEN inject THEN '{"injected": true}'::jsonb ELSE '{}' END, ${DURATION}, ${UTC_NOW}
    FROM decided
  ON CONFLICT (transaction_id, step, kind) DO NOTHING
  RETURNING transaction_id),
acted AS (SELECT d.* FROM decided d WHERE d.transaction_id IN (SELECT transaction_id FROM res)),
moved AS (SELECT * FROM acted),
eff AS (${phase.effect}),
upd AS (
  UPDATE saga_states st SET
         status = CASE WHEN ${advances} THEN '${last ? 'completed' : 'in_progress'}' ELSE 'compensating' END,
         error_code = CASE WHEN ${advances} THEN st.error_code ELSE a.code END,
         error_message = CASE WHEN ${advances} THEN st.error_message ELSE ${messageOf('a.code')} END,
         completed_at = CASE WHEN ${ends} THEN ${UTC_NOW} ELSE st.completed_at END,
         lease_owner = CASE WHEN ${ends} THEN NULL ELSE :owner END,
         lease_expires_at = CASE WHEN ${ends} THEN NULL ELSE ${LEASE} END,
         updated_at = ${UTC_NOW}
    FROM acted a
   -- A step that only moves on leaves the row alone unless the lease is half spent: one row
   -- version less per step, and the status indexes untouched.
   WHERE st.transaction_id = a.transaction_id AND (NOT (${advances}) OR ${last} OR a.lease_due)
  RETURNING st.transaction_id, st.status, st.error_code),
emit AS (
  INSERT INTO saga_events (transaction_id, event_type, payload)
  SELECT a.transaction_id, CASE WHEN ${advances} THEN ${next ? `'${next.name}.run'` : 'NULL'} ELSE ${undo ? `'${undo}.compensate'` : 'NULL'} END, '{}'
    FROM acted a WHERE a.mode = 'choreography' AND NOT (${ends})
  RETURNING transaction_id, id, event_type),
${CONSUMED}${claims(phase)}${result(phase, 'NULL')}`);
}

/**
 * Undoes one committed step. Acts only while the saga is compensating and this step's forward
 * phase really committed (a guard in the saga's selection: compensating a step that never
 * committed undoes nothing). Whether it is the last undo is decided here, from the records:
 * then the saga ends compensated; else the next undo's event is emitted (choreography). An undo
 * that cannot be applied records nothing and leaves the saga in compensation_failed.
 */
export function compensationStatement(step: StepDefinition): Statement {
  const phase = step.compensation;
  if (!phase) throw new Error(`${step.name} has no compensation`);
  const others = UNDOABLE_STEPS.filter((name) => name !== step.name).map((name) => `'${name}'`).join(', ');
  const committed = `
        AND EXISTS (SELECT 1 FROM saga_step_results f WHERE f.transaction_id = st.transaction_id AND f.step = '${step.name}'
                      AND f.kind = 'forward' AND f.status = 'succeeded' ${PER_SAGA})`;
  const failedMessage = `'${ERROR_MESSAGES.COMPENSATION_FAILED.replace(/'/g, "''")}: ${step.name}'`;
  return statement(`saga_comp_${step.name}`, `
WITH ${INPUT},
${lockedSagas('compensating', step.name, 'compensation', committed)},${phase.decide},
res AS (
  INSERT INTO saga_step_results (transaction_id, step, kind, status, data, duration_ms, executed_at)
  SELECT transaction_id, '${step.name}', 'compensation', 'succeeded', ${phase.data}, ${DURATION}, ${UTC_NOW}
    FROM decided WHERE code IS NULL
  ON CONFLICT (transaction_id, step, kind) DO NOTHING
  RETURNING transaction_id),
acted AS (
  SELECT d.*, (SELECT f.step FROM saga_step_results f
                WHERE f.transaction_id = d.transaction_id AND f.kind = 'forward' AND f.status = 'succeeded'
                  AND f.step IN (${others || 'NULL'})
                  AND NOT EXISTS (SELECT 1 FROM saga_step_results c
                                   WHERE c.transaction_id = f.transaction_id AND c.step = f.step AND c.kind = 'compensation' ${PER_SAGA})
                ORDER BY ${STEP_ORDER} DESC LIMIT 1) AS next_undo
    FROM decided d WHERE d.transaction_id IN (SELECT transaction_id FROM res)),
moved AS (
  SELECT transaction_id, code, status, saga_error, event_id, next_undo, lease_due, mode, false AS failed FROM acted
  UNION ALL
  SELECT transaction_id, code, status, saga_error, event_id, NULL, lease_due, mode, true FROM decided WHERE code IS NOT NULL),
eff AS (${phase.effect}),
upd AS (
  UPDATE saga_states st SET
         status = CASE WHEN m.failed THEN 'compensation_failed' WHEN m.next_undo IS NULL THEN 'compensated' ELSE st.status END,
         error_code = CASE WHEN m.failed THEN 'COMPENSATION_FAILED' ELSE st.error_code END,
         error_message = CASE WHEN m.failed THEN ${failedMessage} ELSE st.error_message END,
         lease_owner = CASE WHEN m.failed OR m.next_undo IS NULL THEN NULL ELSE :owner END,
         lease_expires_at = CASE WHEN m.failed OR m.next_undo IS NULL THEN NULL ELSE ${LEASE} END,
         updated_at = ${UTC_NOW}
    FROM moved m
   WHERE st.transaction_id = m.transaction_id AND (m.failed OR m.next_undo IS NULL OR m.lease_due)
  RETURNING st.transaction_id, st.status, st.error_code),
emit AS (
  INSERT INTO saga_events (transaction_id, event_type, payload)
  SELECT transaction_id, next_undo || '.compensate', '{}' FROM moved WHERE mode = 'choreography' AND next_undo IS NOT NULL
  RETURNING transaction_id, id, event_type),
${CONSUMED}${claims(phase)}${result(phase, 'm.next_undo')}`);
}

/**
 * The saga's first statement, over a batch of new purchases: inserts each saga with the price read
 * from items and runs validate_user with it (checks and debit). Every buyer of the batch is locked
 * once and debited once by the sum of its admitted purchases, each admitted in batch order while
 * the running total fits the balance (the purchase limit is checked per purchase). A rejection
 * ends the saga `failed` right here. An id that exists already is skipped, alone (acted = false).
 * Parameters: as the others, plus :users, :items, :quantities, and no :events.
 */
export const START: Statement = statement('saga_start', `
WITH input AS (
  SELECT * FROM unnest(:ids::varchar[], :modes::varchar[], :users::varchar[], :items::varchar[], :quantities::int[], :injects::boolean[])
      WITH ORDINALITY AS x(transaction_id, mode, user_id, item_id, quantity, inject, ord)
   WHERE set_config('lock_timeout', :lock_timeout::text, true) IS NOT NULL),
i AS (SELECT item_id, price FROM items WHERE item_id IN (SELECT item_id FROM input)),
u AS (SELECT user_id, status, balance, purchase_limit FROM users WHERE user_id IN (SELECT user_id FROM input) ORDER BY user_id FOR NO KEY UPDATE),
priced AS (
  SELECT x.*, i.price, i.price * x.quantity AS total, u.user_id IS NOT NULL AS user_found, u.status AS user_status,
         u.balance AS balance_before, u.purchase_limit,
         NOT x.inject AND u.status = 'active' AND i.price IS NOT NULL
           AND (u.purchase_limit = 0 OR i.price * x.quantity <= u.purchase_limit) AS eligible
    FROM input x LEFT JOIN i ON i.item_id = x.item_id LEFT JOIN u ON u.user_id = x.user_id),
ranked AS (
  SELECT p.*, sum(CASE WHEN p.eligible THEN p.total ELSE 0 END)
                OVER (PARTITION BY p.user_id ORDER BY p.ord ROWS UNBOUNDED PRECEDING) AS running
    FROM priced p),
decided AS (
  SELECT r.*, CASE WHEN r.inject THEN 'INJECTED_FAILURE' WHEN NOT r.user_found THEN 'USER_NOT_FOUND'
                   WHEN r.user_status <> 'active' THEN 'USER_NOT_ACTIVE' WHEN r.price IS NULL THEN 'ITEM_NOT_FOUND'
                   WHEN r.purchase_limit > 0 AND r.total > r.purchase_limit THEN 'PURCHASE_LIMIT_EXCEEDED'
                   WHEN r.running > r.balance_before THEN 'INSUFFICIENT_BALANCE' END AS code
    FROM ranked r),
saga AS (
  INSERT INTO saga_states (transaction_id, status, user_id, item_id, quantity, price, mode, error_code, error_message,
                           lease_owner, lease_expires_at, created_at, updated_at)
  SELECT transaction_id, CASE WHEN code IS NULL THEN 'in_progress' ELSE 'failed' END, user_id, item_id, quantity,
         COALESCE(price, 0), mode, code, ${messageOf('code')},
         CASE WHEN code IS NULL THEN :owner END, CASE WHEN code IS NULL THEN ${LEASE} END, ${UTC_NOW}, ${UTC_NOW}
    FROM decided
  ON CONFLICT (transaction_id) DO NOTHING
  RETURNING transaction_id, status),
acted AS (SELECT d.*, sg.status FROM decided d JOIN saga sg USING (transaction_id)),
res AS (
  INSERT INTO saga_step_results (transaction_id, step, kind, status, error_code, error_message, data, duration_ms, executed_at)
  SELECT transaction_id, 'validate_user', 'forward', CASE WHEN code IS NULL THEN 'succeeded' ELSE 'failed' END, code, ${messageOf('code')},
         jsonb_build_object('amount', total::text, 'balanceAfter', CASE WHEN code IS NULL THEN (balance_before - running)::text END)
           || CASE WHEN inject THEN '{"injected": true}'::jsonb ELSE '{}' END,
         ${DURATION}, ${UTC_NOW}
    FROM acted),
eff AS (
  UPDATE users u SET balance = u.balance - a.total, updated_at = ${UTC_NOW}
    FROM (SELECT user_id, sum(total) AS total FROM acted WHERE code IS NULL GROUP BY user_id) a
   WHERE u.user_id = a.user_id),
emit AS (
  INSERT INTO saga_events (transaction_id, event_type, payload)
  SELECT transaction_id, 'reserve_inventory.run', '{}' FROM acted WHERE code IS NULL AND mode = 'choreography'
  RETURNING transaction_id, id, event_type),
claims AS (SELECT set_config('sagactl.ledger', COALESCE((SELECT json_agg(
  json_build_object('account', 'user', 'id', user_id, 'saga', transaction_id, 'step', 'validate_user', 'kind', 'forward', 'delta', -total)
  )::text FROM acted WHERE code IS NULL), '[]'), true) AS v)
SELECT x.transaction_id AS id, a.transaction_id IS NOT NULL AS acted, a.code, COALESCE(a.status, cur.status) AS status,
       CASE WHEN a.transaction_id IS NOT NULL THEN a.code ELSE cur.error_code END AS saga_error,
       cur.lease_owner AS owner, e.id AS event_id, e.event_type, NULL AS next_undo
  FROM input x
  LEFT JOIN acted a ON a.transaction_id = x.transaction_id
  LEFT JOIN emit e ON e.transaction_id = x.transaction_id
  ${current('a')}
 CROSS JOIN claims
 ORDER BY x.ord`);

/**
 * A compensating saga with nothing left to undo ends compensated: the guard re-checks, from the
 * records, that every committed undoable step was undone. $1 the saga, $2 this process's lease owner.
 */
export const FINISH_COMPENSATION = `
UPDATE saga_states s SET status = 'compensated', lease_owner = NULL, lease_expires_at = NULL, updated_at = ${UTC_NOW}
 WHERE s.transaction_id = $1 AND s.status = 'compensating'
   AND (s.lease_owner IS NULL OR s.lease_owner = $2 OR s.lease_expires_at < now())
   AND NOT EXISTS (SELECT 1 FROM saga_step_results f
                    WHERE f.transaction_id = s.transaction_id AND f.kind = 'forward' AND f.status = 'succeeded'
                      AND f.step IN (${UNDOABLE_STEPS.map((n) => `'${n}'`).join(', ')})
                      AND NOT EXISTS (SELECT 1 FROM saga_step_results c
                                       WHERE c.transaction_id = f.transaction_id AND c.step = f.step AND c.kind = 'compensation'))
RETURNING s.status`;
