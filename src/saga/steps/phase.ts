import { StepName } from '../types';

/**
 * One phase of a step (its forward action or its compensation) as the SQL fragments that
 * src/saga/statements.ts folds into one statement over a whole batch of sagas. Inside a fragment:
 * - CTE `s` holds the batch's sagas this statement may move, locked, one row each: transaction_id,
 *   user_id, item_id, quantity, price, total, mode, inject, event_id, ord (the saga's place in the batch);
 * - `decide` adds CTEs that lock the rows the phase changes, once for the whole batch, and must
 *   end with `decided`: every row of `s` plus `code` (NULL: the phase applies; else why not);
 * - `data` is the step record's data, an expression over a row of `decided`;
 * - `effect` is a data-modifying CTE over `acted` (the rows of `decided` whose step record was
 *   written: a saga whose record exists already is skipped, alone) restricted to `code IS NULL`;
 * - `claim` is the ledger claim of one acted row (a json object), when the phase moves money or stock.
 */
/**
 * Plans that hold at any table size. These statements are prepared once per connection and then
 * run on a generic plan, made from the statistics of that moment. A table just created or
 * truncated looks empty, and the plan made then stayed for the connection's life as the table grew:
 * a scan of all of saga_step_results for each saga of a batch, a hash of all of saga_states
 * (rounds of 8,000 sagas read 100 million step rows and ran at half speed, or not, depending on
 * when autovacuum's ANALYZE came by). So every lookup by a saga's key is a subquery of its own,
 * run once per saga of the batch through that key's index: OFFSET 0 keeps the planner from folding
 * it into a join whose shape the statistics would choose.
 */
export const PER_SAGA = 'OFFSET 0';

export interface Phase {
  decide: string;
  data: string;
  effect: string;
  claim?: string;
}

export interface StepDefinition {
  name: StepName;
  /** validate_user's forward phase runs inside the saga's start statement (src/saga/statements.ts). */
  forward?: Phase;
  compensation?: Phase;
  /** A failure of this step never undoes the purchase (the notification): the saga still completes. */
  neverCompensates?: boolean;
}

/** A ledger claim for one saga's movement of one account (see migrations/1764000000500-ledger.ts). */
export function claim(account: 'user' | 'item', id: string, step: StepName, kind: 'forward' | 'compensation', delta: string): string {
  return `json_build_object('account', '${account}', 'id', ${id}, 'saga', transaction_id, 'step', '${step}', 'kind', '${kind}', 'delta', ${delta})`;
}
