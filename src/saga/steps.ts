import { StepName } from './types';

/**
 * The four steps, each next to its compensation, as SQL fragments that src/saga/statements.ts
 * folds into one statement per step. Inside a fragment:
 * - CTE `s` is the saga row, locked: transaction_id, user_id, item_id, quantity, price, total;
 * - CTE `eff` is the effect's RETURNING row (present only when the effect applied);
 * - $5 is "a failure is injected here" (the effect then matches nothing).
 * An effect must return no row when it cannot apply, so the statement records a failure instead.
 */
export interface StepSql {
  effect: string;
  /** The error code when the effect matched nothing (an SQL expression over `s`). */
  reason: string;
  data: string;
}

export interface StepDefinition {
  name: StepName;
  /** The forward step; validate_user's runs inside the saga's start statement instead. */
  forward: StepSql;
  /** Undo of a committed forward step; absent when there is nothing to undo. */
  compensation?: Omit<StepSql, 'reason'>;
  /** A failure of this step never undoes the purchase (the notification): the saga still completes. */
  neverCompensates?: boolean;
}

export const VALIDATE_USER: StepDefinition = {
  name: 'validate_user',
  // Used only by statements.startSql, where `t.total` is price x quantity read from items.
  forward: {
    effect: `UPDATE users SET balance = balance - (SELECT total FROM t), updated_at = CURRENT_TIMESTAMP
              WHERE user_id = $7 AND NOT $5::boolean AND status = 'active' AND EXISTS (SELECT 1 FROM i)
                AND balance >= (SELECT total FROM t)
                AND (purchase_limit = 0 OR (SELECT total FROM t) <= purchase_limit)
              RETURNING balance`,
    reason: `CASE WHEN NOT EXISTS (SELECT 1 FROM u) THEN 'USER_NOT_FOUND'
                  WHEN (SELECT status FROM u) <> 'active' THEN 'USER_NOT_ACTIVE'
                  WHEN NOT EXISTS (SELECT 1 FROM i) THEN 'ITEM_NOT_FOUND'
                  WHEN (SELECT purchase_limit FROM u) > 0 AND (SELECT total FROM t) > (SELECT purchase_limit FROM u)
                    THEN 'PURCHASE_LIMIT_EXCEEDED'
                  ELSE 'INSUFFICIENT_BALANCE' END`,
    data: `jsonb_build_object('amount', (SELECT total FROM t)::text, 'balanceAfter', (SELECT balance FROM eff)::text)`,
  },
  compensation: {
    effect: `UPDATE users u SET balance = u.balance + s.total, updated_at = CURRENT_TIMESTAMP
              FROM s WHERE u.user_id = s.user_id AND NOT $5::boolean RETURNING u.balance`,
    data: `jsonb_build_object('refunded', s.total::text, 'balanceAfter', (SELECT balance FROM eff)::text)`,
  },
};

export const RESERVE_INVENTORY: StepDefinition = {
  name: 'reserve_inventory',
  forward: {
    effect: `UPDATE items it SET stock = it.stock - s.quantity, updated_at = CURRENT_TIMESTAMP
              FROM s WHERE it.item_id = s.item_id AND NOT $5::boolean AND it.is_available AND it.stock >= s.quantity
              RETURNING it.stock`,
    reason: `CASE WHEN NOT EXISTS (SELECT 1 FROM items WHERE item_id = s.item_id) THEN 'ITEM_NOT_FOUND'
                  WHEN NOT (SELECT is_available FROM items WHERE item_id = s.item_id) THEN 'ITEM_NOT_AVAILABLE'
                  ELSE 'INSUFFICIENT_STOCK' END`,
    data: `jsonb_build_object('quantity', s.quantity, 'stockAfter', (SELECT stock FROM eff))`,
  },
  compensation: {
    effect: `UPDATE items it SET stock = it.stock + s.quantity, updated_at = CURRENT_TIMESTAMP
              FROM s WHERE it.item_id = s.item_id AND NOT $5::boolean RETURNING it.stock`,
    data: `jsonb_build_object('restocked', s.quantity, 'stockAfter', (SELECT stock FROM eff))`,
  },
};

export const LOG_TRANSACTION: StepDefinition = {
  name: 'log_transaction',
  // The log id is derived from the saga's id, so a second write collides instead of duplicating.
  forward: {
    effect: `INSERT INTO transaction_logs (log_id, transaction_id, user_id, item_id, quantity, price, status, log_data)
             SELECT 'log-' || s.transaction_id, s.transaction_id, s.user_id, s.item_id, s.quantity, s.price, 'logged',
                    jsonb_build_object('total', s.total::text, 'mode', $2::text)
               FROM s WHERE NOT $5::boolean RETURNING log_id`,
    reason: `'LOG_FAILED'`,
    data: `jsonb_build_object('logId', (SELECT log_id FROM eff))`,
  },
  compensation: {
    effect: `UPDATE transaction_logs tl SET status = 'reversed',
                    log_data = coalesce(tl.log_data, '{}') || jsonb_build_object('reversedAt', now())
              FROM s WHERE tl.log_id = 'log-' || s.transaction_id AND NOT $5::boolean RETURNING tl.log_id`,
    data: `jsonb_build_object('logId', (SELECT log_id FROM eff), 'status', 'reversed')`,
  },
};

export const SEND_NOTIFICATION: StepDefinition = {
  name: 'send_notification',
  // The row is written either way: 'sent', or 'failed' when delivery failed after its retries.
  forward: {
    effect: `INSERT INTO notifications (notification_id, transaction_id, user_id, type, message, channels, status, sent_at)
             SELECT 'ntf-' || s.transaction_id, s.transaction_id, s.user_id, 'purchase_completed',
                    'Purchased ' || s.quantity || ' x ' || s.item_id || ' for ' || s.total::text,
                    '["email", "push"]'::jsonb,
                    CASE WHEN $5::boolean THEN 'failed' ELSE 'sent' END,
                    CASE WHEN $5::boolean THEN NULL ELSE CURRENT_TIMESTAMP END
               FROM s RETURNING notification_id, status`,
    reason: `'NOTIFICATION_FAILED'`,
    data: `jsonb_build_object('notificationId', (SELECT notification_id FROM eff), 'channels', '["email", "push"]'::jsonb)`,
  },
  neverCompensates: true,
};

/** The saga, in order. Compensation runs over the committed ones in reverse. */
export const SAGA_STEPS: readonly StepDefinition[] = [VALIDATE_USER, RESERVE_INVENTORY, LOG_TRANSACTION, SEND_NOTIFICATION];
