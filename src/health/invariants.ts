import { SAGA_STEPS } from '../saga/steps';
import { stuckCondition, whyStuck } from '../saga/stuck';
import { LEDGER_INVARIANTS } from './ledger-invariants';
import { CHOREOGRAPHY_INVARIANTS } from './choreography';

/**
 * The data-integrity invariants of `db check`. Each is one plain query returning the offending
 * rows, an `id` column first; check.ts adds the count and the sample limit. Constraints already
 * forbid some of these (CHECK, UNIQUE): they are checked anyway, because a constraint can be
 * dropped or added NOT VALID, and the check is what an auditor trusts.
 */
export interface Invariant {
  name: string;
  description: string;
  sql: string;
  /** Parameters from $2 on ($1 is the sample limit). */
  params: (opts: InvariantOptions) => unknown[];
}

export interface InvariantOptions {
  /** The stuck rule's --older-than (src/saga/stuck.ts). */
  olderThanMs: number;
  /** Lease owners on this host whose process is gone. */
  deadOwners: string[];
}

const ALL_STEPS = SAGA_STEPS.map((s) => s.name);
/** Steps whose effect is undone on failure; the notification is not (it never refunds). */
const UNDOABLE = SAGA_STEPS.filter((s) => s.compensation).map((s) => s.name);

/** A JSON text as numeric, or NULL when it is no decimal number: money compared in SQL, never as a float. */
const asMoney = (expr: string) => `(CASE WHEN ${expr} ~ '^-?[0-9]+(\\.[0-9]+)?$' THEN (${expr})::numeric END)`;

export const INVARIANTS: Invariant[] = [
  {
    name: 'no_negative_balance',
    description: 'no user balance below zero',
    sql: `SELECT user_id AS id, balance::text AS balance FROM users WHERE balance < 0`,
    params: () => [],
  },
  {
    name: 'no_negative_stock',
    description: 'no item stock below zero',
    sql: `SELECT item_id AS id, stock FROM items WHERE stock < 0`,
    params: () => [],
  },
  {
    name: 'completed_sagas_have_every_step',
    description: 'a completed saga has every forward step (each undoable one succeeded) and a logged transaction_logs row',
    sql: `SELECT * FROM (
            SELECT s.transaction_id AS id,
                   ARRAY(SELECT st FROM unnest($2::text[]) AS st
                          WHERE NOT EXISTS (SELECT 1 FROM saga_step_results r
                                             WHERE r.transaction_id = s.transaction_id AND r.step = st AND r.kind = 'forward'
                                               AND (r.status = 'succeeded' OR st <> ALL($3::text[])))) AS "stepsMissing",
                   NOT EXISTS (SELECT 1 FROM transaction_logs l
                                WHERE l.transaction_id = s.transaction_id AND l.status = 'logged') AS "logMissing"
              FROM saga_states s WHERE s.status = 'completed') AS c
           WHERE cardinality(c."stepsMissing") > 0 OR c."logMissing"`,
    params: () => [ALL_STEPS, UNDOABLE],
  },
  {
    name: 'undone_sagas_undid_every_step',
    description: 'a compensated or failed saga has a succeeded compensation for every forward step it committed that has one',
    sql: `SELECT f.transaction_id AS id, min(s.status) AS status, array_agg(f.step ORDER BY f.id) AS "notUndone"
            FROM saga_states s JOIN saga_step_results f ON f.transaction_id = s.transaction_id
           WHERE s.status IN ('compensated', 'failed') AND f.kind = 'forward' AND f.status = 'succeeded'
             AND f.step = ANY($2::text[])
             AND NOT EXISTS (SELECT 1 FROM saga_step_results c
                              WHERE c.transaction_id = f.transaction_id AND c.step = f.step
                                AND c.kind = 'compensation' AND c.status = 'succeeded')
           GROUP BY f.transaction_id`,
    params: () => [UNDOABLE],
  },
  {
    name: 'refunds_match_debits',
    description: 'every refund (validate_user compensation) equals its committed debit, to the cent',
    sql: `SELECT c.transaction_id AS id, f.data->>'amount' AS debited, c.data->>'refunded' AS refunded
            FROM saga_step_results c
            LEFT JOIN saga_step_results f ON f.transaction_id = c.transaction_id AND f.step = c.step
                                         AND f.kind = 'forward' AND f.status = 'succeeded'
           WHERE c.step = 'validate_user' AND c.kind = 'compensation' AND c.status = 'succeeded'
             AND NOT COALESCE(f.id IS NOT NULL AND ${asMoney("f.data->>'amount'")} = ${asMoney("c.data->>'refunded'")}, false)`,
    params: () => [],
  },
  {
    name: 'steps_recorded_once',
    description: 'no (transaction_id, step, kind) recorded twice',
    sql: `SELECT transaction_id || ':' || step || ':' || kind AS id, count(*)::int AS times
            FROM saga_step_results GROUP BY transaction_id, step, kind HAVING count(*) > 1`,
    params: () => [],
  },
  ...LEDGER_INVARIANTS,
  {
    name: 'no_stuck_sagas',
    description: 'no saga stuck: unmoved past --older-than with no live lease, owned by a process gone from this host, or compensation_failed',
    sql: `SELECT s.transaction_id AS id, s.status, ${whyStuck('s', '$2', '$3')} AS why, s.updated_at AS "updatedAt",
                 s.lease_owner AS "leaseOwner", s.lease_expires_at AS "leaseExpiresAt"
            FROM saga_states s
           WHERE s.status IN ('pending', 'in_progress', 'compensating', 'compensation_failed') AND ${stuckCondition('s', '$2', '$3')}`,
    params: (o) => [o.olderThanMs, o.deadOwners],
  },
  ...CHOREOGRAPHY_INVARIANTS,
];
