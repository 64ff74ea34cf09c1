import { UTC_NOW } from '../../db/sql';
import { StepDefinition } from './phase';

/**
 * Write the notification row: 'sent', or 'failed' when delivery failed after its retries (an
 * injected failure stands for that). A failed notification never refunds: the saga completes.
 */
export const SEND_NOTIFICATION: StepDefinition = {
  name: 'send_notification',
  forward: {
    decide: `
decided AS (SELECT s.*, CASE WHEN s.inject THEN 'NOTIFICATION_FAILED' END AS code FROM s)`,
    data: `jsonb_build_object('notificationId', 'ntf-' || transaction_id, 'channels', '["email", "push"]'::jsonb)`,
    // Over every acted saga, not only the ok ones: the row says whether it went out.
    effect: `INSERT INTO notifications (notification_id, transaction_id, user_id, type, message, channels, status, sent_at, created_at)
  SELECT 'ntf-' || transaction_id, transaction_id, user_id, 'purchase_completed',
         'Purchased ' || quantity || ' x ' || item_id || ' for ' || total::text, '["email", "push"]'::jsonb,
         CASE WHEN code IS NULL THEN 'sent' ELSE 'failed' END, CASE WHEN code IS NULL THEN ${UTC_NOW} END, ${UTC_NOW}
    FROM acted
  ON CONFLICT (notification_id) DO NOTHING`,
  },
  neverCompensates: true,
};
