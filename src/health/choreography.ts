import { UTC_NOW } from '../db/sql';
import { SAGA_STEPS } from '../saga/steps';
import { lastMoved, stuckCondition } from '../saga/stuck';
import type { Invariant } from './invariants';

/**
 * The choreography audit of `db check`: the outbox (saga_events) against the step records. In
 * choreography each step consumes its triggering event (`<step>.run`, `<step>.compensate`: marks it
 * delivered) in the statement that records the step, and writes the next event in that same
 * statement (src/saga/statements.ts); so in a healthy database every delivered event has the step
 * record it caused, every saga in flight has its next event, and no event waits long. Each rule
 * reports sagas (id = transaction_id), so the sample names sagas and the count counts them.
 * Thresholds are db check's --older-than ($2).
 */
const STEP_ORDER = SAGA_STEPS.map((s) => s.name);
const UNDOABLE = SAGA_STEPS.filter((s) => s.compensation).map((s) => s.name);
const OLDER = `$2::int * interval '1 millisecond'`;

/** The step an event names and what it asks for: `reserve_inventory.run` → (reserve_inventory, forward). */
const EVENT_STEP = `split_part(e.event_type, '.', 1)`;
const EVENT_KIND = `CASE split_part(e.event_type, '.', 2) WHEN 'run' THEN 'forward' ELSE 'compensation' END`;

export const CHOREOGRAPHY_INVARIANTS: Invariant[] = [
  {
    // A stuck saga's waiting event is the normal trace of a crash between commit and publish:
    // no_stuck_sagas names that saga and `saga recover` delivers the event, so it is not counted
    // twice. What is left nobody will deliver: events of a settled saga, or of one still driven.
    name: 'outbox_events_delivered',
    description: 'no choreography outbox event left undelivered longer than --older-than (a stuck saga\'s event is left to no_stuck_sagas)',
    sql: `SELECT e.transaction_id AS id, min(s.status) AS status, count(*)::int AS events,
                 array_agg(e.event_type ORDER BY e.id) AS "eventTypes", min(e.created_at) AS "oldestAt"
            FROM saga_events e JOIN saga_states s ON s.transaction_id = e.transaction_id
           WHERE e.delivered_at IS NULL AND e.created_at < now() - ${OLDER}
             AND NOT (s.status IN ('pending', 'in_progress', 'compensating', 'compensation_failed') AND ${stuckCondition('s', '$2', '$3')})
           GROUP BY e.transaction_id`,
    params: (o) => [o.olderThanMs, o.deadOwners],
  },
  {
    // Two exceptions, both recorded: an operator's compensate or recover marks the saga's waiting
    // events delivered in the transaction that writes its audit row (same now()), superseding them;
    // and an undo that failed consumes its event, records nothing, and leaves the saga
    // compensation_failed (the operator's queue, reported by no_stuck_sagas).
    name: 'delivered_events_acted_on',
    description: 'every delivered outbox event has the step it triggered: a forward record for <step>.run, a compensation record for <step>.compensate',
    sql: `SELECT e.transaction_id AS id, array_agg(e.event_type ORDER BY e.id) AS "eventTypes"
            FROM saga_events e JOIN saga_states s ON s.transaction_id = e.transaction_id
           WHERE e.delivered_at IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM saga_step_results r WHERE r.transaction_id = e.transaction_id
                               AND r.step = ${EVENT_STEP} AND r.kind = ${EVENT_KIND})
             AND NOT EXISTS (SELECT 1 FROM operator_audit a WHERE a.transaction_id = e.transaction_id AND a.at = e.delivered_at)
             AND NOT (s.status = 'compensation_failed' AND ${EVENT_KIND} = 'compensation')
           GROUP BY e.transaction_id`,
    params: () => [],
  },
  {
    // In flight, the next event is the one after the last committed forward step, or, compensating,
    // the undo of the latest committed undoable step not undone yet (the same order the
    // statements follow). It may exist undelivered (outbox_events_delivered) or delivered without
    // its step (delivered_events_acted_on); here it was never written at all.
    name: 'no_saga_waits_on_missing_event',
    description: 'no choreography saga in flight, unmoved past --older-than, waits for a next event that was never emitted',
    sql: `SELECT s.transaction_id AS id, s.status, x.expected AS "expectedEvent"
            FROM saga_states s
           CROSS JOIN LATERAL (SELECT CASE s.status
             WHEN 'in_progress' THEN (SELECT ($3::text[])[max(array_position($3::text[], r.step::text)) + 1] || '.run'
                                        FROM saga_step_results r WHERE r.transaction_id = s.transaction_id
                                         AND r.kind = 'forward' AND r.status = 'succeeded')
             ELSE (SELECT f.step || '.compensate' FROM saga_step_results f
                    WHERE f.transaction_id = s.transaction_id AND f.kind = 'forward' AND f.status = 'succeeded'
                      AND f.step = ANY($4::text[])
                      AND NOT EXISTS (SELECT 1 FROM saga_step_results c WHERE c.transaction_id = f.transaction_id
                                        AND c.step = f.step AND c.kind = 'compensation')
                    ORDER BY array_position($3::text[], f.step::text) DESC LIMIT 1) END AS expected) x
           WHERE s.mode = 'choreography' AND s.status IN ('in_progress', 'compensating') AND x.expected IS NOT NULL
             AND ${lastMoved('s')} < ${UTC_NOW} - ${OLDER}
             AND NOT EXISTS (SELECT 1 FROM saga_events e WHERE e.transaction_id = s.transaction_id AND e.event_type = x.expected)`,
    params: (o) => [o.olderThanMs, STEP_ORDER, UNDOABLE],
  },
  {
    // One event row is delivered at most once by construction (the consuming statement sets
    // delivered_at only while it is NULL), so a second delivery can only be a second row of the same
    // saga and type. Nothing in the schema forbids that row (no UNIQUE on transaction_id,
    // event_type), and the engine never writes one (each event is emitted with a step record that
    // is unique per saga, step and kind), so this finds a writer outside the engine.
    name: 'events_delivered_once',
    description: 'no saga had the same outbox event type delivered more than once',
    sql: `SELECT e.transaction_id || ':' || e.event_type AS id, count(*)::int AS deliveries
            FROM saga_events e WHERE e.delivered_at IS NOT NULL
           GROUP BY e.transaction_id, e.event_type HAVING count(*) > 1`,
    params: () => [],
  },
];
