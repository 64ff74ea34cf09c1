import { ERROR_MESSAGES } from './types';
import { SAGA_STEPS, StepDefinition, VALIDATE_USER } from './steps';

/**
 * One SQL statement per step: the effect, its step-result row, the saga's status and lease, and
 * (choreography) the outbox event consumed and the next one emitted, all in one implicit
 * transaction and one round trip. Pure functions of the step definitions: the text is built once
 * and sent as a named prepared statement.
 *
 * Parameters of forward and compensation statements:
 *   $1 transaction id, $2 mode, $3 lease owner, $4 lease length in ms, $5 inject a failure,
 *   $6 id of the outbox event being consumed (null in orchestration), $7 emit the next event,
 *   $8 (compensation only) this is the last compensation.
 */

const messages = Object.entries(ERROR_MESSAGES).map(([code, text]) => `WHEN '${code}' THEN '${text.replace(/'/g, "''")}'`);

/** The human message of an error code, as SQL (constants only; no value is interpolated). */
export const messageOf = (code: string) => `CASE ${code} ${messages.join(' ')} ELSE NULL END`;

const DURATION = `round((extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::numeric, 3)`;
const LEASE = `now() + $4::int * interval '1 millisecond'`;

/**
 * The saga's first statement: inserts the saga row with the price read from items, and runs
 * validate_user (checks and debit) with it. A rejection ends the saga `failed` right here.
 * Params: $1 id, $2 mode, $3 owner, $4 lease ms, $5 inject, $6 emit, $7 user, $8 item, $9 quantity.
 * A second run of the same id fails on the primary key and changes nothing.
 */
export const START_SQL = `
WITH i AS (SELECT price FROM items WHERE item_id = $8),
u AS (SELECT status, balance, purchase_limit FROM users WHERE user_id = $7),
t AS (SELECT (SELECT price FROM i) * $9::int AS total),
eff AS (${VALIDATE_USER.forward.effect}),
why AS (SELECT CASE WHEN EXISTS (SELECT 1 FROM eff) THEN NULL WHEN $5::boolean THEN 'INJECTED_FAILURE'
                    ELSE ${VALIDATE_USER.forward.reason} END AS code),
saga AS (
  INSERT INTO saga_states (transaction_id, status, user_id, item_id, quantity, price, mode, error_code, error_message,
                           lease_owner, lease_expires_at)
  SELECT $1, CASE WHEN code IS NULL THEN 'in_progress' ELSE 'failed' END, $7, $8, $9, COALESCE((SELECT price FROM i), 0),
         $2, code, ${messageOf('code')},
         CASE WHEN code IS NULL THEN $3 END, CASE WHEN code IS NULL THEN ${LEASE} END
    FROM why RETURNING transaction_id),
res AS (
  INSERT INTO saga_step_results (transaction_id, step, kind, status, error_code, error_message, data, duration_ms)
  SELECT $1, 'validate_user', 'forward', CASE WHEN code IS NULL THEN 'succeeded' ELSE 'failed' END, code, ${messageOf('code')},
         ${VALIDATE_USER.forward.data} || CASE WHEN $5::boolean THEN jsonb_build_object('injected', true) ELSE '{}' END, ${DURATION}
    FROM why, saga RETURNING id),
emit AS (
  INSERT INTO saga_events (transaction_id, event_type, payload)
  SELECT $1, 'reserve_inventory.run', '{}' FROM why, res WHERE $6::boolean AND code IS NULL RETURNING id, event_type)
SELECT (SELECT code FROM why) AS code, (SELECT total FROM t)::text AS total,
       (SELECT id FROM emit) AS event_id, (SELECT event_type FROM emit) AS event_type`;

/**
 * Locks the saga row when it is in `status`, in this mode, and not leased to someone else. NO KEY
 * UPDATE is enough (the key never changes) and still excludes an operator's FOR UPDATE claim.
 */
function lockedSaga(status: string): string {
  return `
ev AS (UPDATE saga_events SET delivered_at = now() WHERE id = $6::bigint AND delivered_at IS NULL RETURNING id),
s AS (
  SELECT transaction_id, user_id, item_id, quantity, price, price * quantity AS total,
         lease_owner IS DISTINCT FROM $3 OR lease_expires_at < now() + ($4::int / 2) * interval '1 millisecond' AS lease_due
    FROM saga_states
   WHERE transaction_id = $1 AND status = '${status}' AND mode = $2
     AND ($6::bigint IS NULL OR EXISTS (SELECT 1 FROM ev))
     AND (lease_owner IS NULL OR lease_owner = $3 OR lease_expires_at < now())
     FOR NO KEY UPDATE)`;
}

export function forwardSql(step: StepDefinition): string {
  const index = SAGA_STEPS.indexOf(step);
  const next = SAGA_STEPS[index + 1];
  const previous = SAGA_STEPS[index - 1];
  const last = next === undefined;
  // A notification that failed is recorded as failed, yet the purchase completes.
  const code = step.neverCompensates
    ? `CASE WHEN $5::boolean THEN ${step.forward.reason} WHEN EXISTS (SELECT 1 FROM eff) THEN NULL ELSE ${step.forward.reason} END`
    : `CASE WHEN EXISTS (SELECT 1 FROM eff) THEN NULL WHEN $5::boolean THEN 'INJECTED_FAILURE' ELSE ${step.forward.reason} END`;
  const advances = step.neverCompensates ? 'EXISTS (SELECT 1 FROM eff)' : '(SELECT code FROM why) IS NULL';
  return `
WITH ${lockedSaga('in_progress')},
eff AS (${step.forward.effect}),
why AS (SELECT ${code} AS code FROM s),
res AS (
  INSERT INTO saga_step_results (transaction_id, step, kind, status, error_code, error_message, data, duration_ms)
  SELECT $1, '${step.name}', 'forward', CASE WHEN code IS NULL THEN 'succeeded' ELSE 'failed' END, code, ${messageOf('code')},
         ${step.forward.data} || CASE WHEN $5::boolean THEN jsonb_build_object('injected', true) ELSE '{}' END, ${DURATION}
    FROM why, s RETURNING id),
upd AS (
  UPDATE saga_states SET
         status = CASE WHEN ${advances} THEN '${last ? 'completed' : 'in_progress'}' ELSE 'compensating' END,
         error_code = CASE WHEN ${advances} THEN NULL ELSE (SELECT code FROM why) END,
         error_message = CASE WHEN ${advances} THEN NULL ELSE ${messageOf('(SELECT code FROM why)')} END,
         updated_at = CURRENT_TIMESTAMP,
         completed_at = CASE WHEN ${advances} AND ${last} THEN CURRENT_TIMESTAMP END,
         lease_owner = CASE WHEN ${advances} AND ${last} THEN NULL ELSE $3 END,
         lease_expires_at = CASE WHEN ${advances} AND ${last} THEN NULL ELSE ${LEASE} END
   WHERE transaction_id = $1 AND EXISTS (SELECT 1 FROM res)
     -- A step that only moves on leaves the row alone unless the lease is half spent: one row
     -- version less per step, and the status indexes untouched.
     AND (NOT ${advances} OR ${last} OR (SELECT lease_due FROM s))
  RETURNING status),
emit AS (
  INSERT INTO saga_events (transaction_id, event_type, payload)
  SELECT $1, CASE WHEN ${advances} THEN ${next ? `'${next.name}.run'` : 'NULL'} ELSE '${previous?.name}.compensate' END, '{}'
    FROM why, res WHERE $7::boolean AND (CASE WHEN ${advances} THEN ${!last} ELSE true END) RETURNING id, event_type)
SELECT (SELECT count(*) FROM s)::int AS owned, (SELECT code FROM why) AS code,
       (SELECT status FROM upd) AS status, (SELECT id FROM emit) AS event_id, (SELECT event_type FROM emit) AS event_type`;
}

/**
 * Undoes one committed forward step. It acts only while the saga is `compensating` and the
 * forward step really committed; the last compensation ends the saga `compensated`.
 */
export function compensationSql(step: StepDefinition): string {
  const comp = step.compensation;
  if (!comp) throw new Error(`${step.name} has no compensation`);
  const previous = SAGA_STEPS[SAGA_STEPS.indexOf(step) - 1];
  return `
WITH ${lockedSaga('compensating')},
fwd AS (SELECT 1 FROM saga_step_results WHERE transaction_id = $1 AND step = '${step.name}' AND kind = 'forward' AND status = 'succeeded'),
eff AS (${comp.effect.replace('NOT $5::boolean', 'NOT $5::boolean AND EXISTS (SELECT 1 FROM fwd)')}),
res AS (
  INSERT INTO saga_step_results (transaction_id, step, kind, status, data, duration_ms)
  SELECT $1, '${step.name}', 'compensation', 'succeeded', ${comp.data}, ${DURATION}
    FROM s, eff RETURNING id),
upd AS (
  UPDATE saga_states SET
         status = CASE WHEN $8::boolean THEN 'compensated' ELSE status END,
         updated_at = CURRENT_TIMESTAMP,
         lease_owner = CASE WHEN $8::boolean THEN NULL ELSE $3 END,
         lease_expires_at = CASE WHEN $8::boolean THEN NULL ELSE ${LEASE} END
   WHERE transaction_id = $1 AND EXISTS (SELECT 1 FROM res)),
emit AS (
  INSERT INTO saga_events (transaction_id, event_type, payload)
  SELECT $1, '${previous?.name}.compensate', '{}' FROM res WHERE $7::boolean AND NOT $8::boolean RETURNING id, event_type)
SELECT (SELECT count(*) FROM s)::int AS owned, (SELECT count(*) FROM fwd)::int AS committed,
       (SELECT count(*) FROM res)::int AS done, (SELECT id FROM emit) AS event_id, (SELECT event_type FROM emit) AS event_type`;
}

/** An undo that could not be applied: the saga waits for an operator in compensation_failed. */
export const COMPENSATION_FAILED_SQL = `
UPDATE saga_states SET status = 'compensation_failed', error_code = 'COMPENSATION_FAILED',
       error_message = $2, updated_at = CURRENT_TIMESTAMP, lease_owner = NULL, lease_expires_at = NULL
 WHERE transaction_id = $1 AND status = 'compensating'`;
