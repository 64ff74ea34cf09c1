import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The six tables of the design (section 1.1), columns and types as written there, plus what
 * correctness needs:
 * - CHECK constraints: no negative balance, stock or price, positive quantities, and every
 *   status column limited to its vocabulary (mirrored by the `as const` objects in src/saga/types.ts);
 * - saga_states.mode (a saga belongs to one driver for life), error_code, and the lease
 *   (lease_owner, lease_expires_at) that crash recovery uses to find abandoned sagas;
 * - saga_step_results.kind (forward | compensation), unique per (transaction_id, step, kind): the
 *   key that makes a repeated step or compensation a no-op; duration_ms for the timeline;
 * - saga_events, the choreography outbox, and operator_audit, the trail of manual actions.
 * The design's seven indexes come in the next migration, built CONCURRENTLY.
 */
export class CreateTables1764000000000 implements MigrationInterface {
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE users (
      user_id        VARCHAR(50) PRIMARY KEY,
      name           VARCHAR(100) NOT NULL,
      balance        DECIMAL(10,2) NOT NULL DEFAULT 0.00 CONSTRAINT users_balance_non_negative CHECK (balance >= 0),
      status         VARCHAR(20) NOT NULL DEFAULT 'active'
                     CONSTRAINT users_status_known CHECK (status IN ('active', 'suspended', 'inactive')),
      purchase_limit DECIMAL(10,2) NOT NULL DEFAULT 0.00 CONSTRAINT users_purchase_limit_non_negative CHECK (purchase_limit >= 0),
      created_at     TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
      updated_at     TIMESTAMP DEFAULT CURRENT_TIMESTAMP
    )`);
    await q.query(`CREATE TABLE items (
      item_id      VARCHAR(50) PRIMARY KEY,
      name         VARCHAR(100) NOT NULL,
      price        DECIMAL(10,2) NOT NULL CONSTRAINT items_price_non_negative CHECK (price >= 0),
      stock        INTEGER NOT NULL DEFAULT 0 CONSTRAINT items_stock_non_negative CHECK (stock >= 0),
      is_available BOOLEAN NOT NULL DEFAULT true,
      created_at   TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
      updated_at   TIMESTAMP DEFAULT CURRENT_TIMESTAMP
    )`);
    await q.query(`CREATE TABLE saga_states (
      transaction_id   VARCHAR(100) PRIMARY KEY,
      status           VARCHAR(20) NOT NULL CONSTRAINT saga_states_status_known CHECK (status IN
                       ('pending', 'in_progress', 'completed', 'failed', 'compensating', 'compensated', 'compensation_failed')),
      user_id          VARCHAR(50) NOT NULL,
      item_id          VARCHAR(50) NOT NULL,
      quantity         INTEGER NOT NULL CONSTRAINT saga_states_quantity_positive CHECK (quantity > 0),
      price            DECIMAL(10,2) NOT NULL CONSTRAINT saga_states_price_non_negative CHECK (price >= 0),
      created_at       TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
      updated_at       TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
      completed_at     TIMESTAMP NULL,
      error_message    TEXT NULL,
      mode             VARCHAR(20) NOT NULL CONSTRAINT saga_states_mode_known CHECK (mode IN ('orchestration', 'choreography')),
      error_code       VARCHAR(50) NULL,
      lease_owner      VARCHAR(200) NULL,
      lease_expires_at TIMESTAMPTZ NULL
    )`);
    await q.query(`CREATE TABLE saga_step_results (
      id             SERIAL PRIMARY KEY,
      transaction_id VARCHAR(100) NOT NULL,
      step           VARCHAR(50) NOT NULL CONSTRAINT saga_step_results_step_known CHECK (step IN
                     ('validate_user', 'reserve_inventory', 'log_transaction', 'send_notification')),
      status         VARCHAR(20) NOT NULL CONSTRAINT saga_step_results_status_known CHECK (status IN ('succeeded', 'failed')),
      data           JSONB NULL,
      error_code     VARCHAR(50) NULL,
      error_message  TEXT NULL,
      executed_at    TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
      kind           VARCHAR(20) NOT NULL DEFAULT 'forward' CONSTRAINT saga_step_results_kind_known CHECK (kind IN ('forward', 'compensation')),
      duration_ms    NUMERIC(10,3) NULL,
      FOREIGN KEY (transaction_id) REFERENCES saga_states(transaction_id),
      CONSTRAINT saga_step_results_once UNIQUE (transaction_id, step, kind)
    )`);
    await q.query(`CREATE TABLE transaction_logs (
      log_id         VARCHAR(100) PRIMARY KEY,
      transaction_id VARCHAR(100) NOT NULL,
      user_id        VARCHAR(50) NOT NULL,
      item_id        VARCHAR(50) NOT NULL,
      quantity       INTEGER NOT NULL CONSTRAINT transaction_logs_quantity_positive CHECK (quantity > 0),
      price          DECIMAL(10,2) NOT NULL CONSTRAINT transaction_logs_price_non_negative CHECK (price >= 0),
      status         VARCHAR(20) NOT NULL CONSTRAINT transaction_logs_status_known CHECK (status IN ('logged', 'reversed')),
      log_data       JSONB NULL,
      created_at     TIMESTAMP DEFAULT CURRENT_TIMESTAMP
    )`);
    await q.query(`CREATE TABLE notifications (
      notification_id VARCHAR(100) PRIMARY KEY,
      transaction_id  VARCHAR(100) NOT NULL,
      user_id         VARCHAR(50) NOT NULL,
      type            VARCHAR(50) NOT NULL,
      message         TEXT NOT NULL,
      channels        JSONB NOT NULL,
      status          VARCHAR(20) NOT NULL DEFAULT 'pending' CONSTRAINT notifications_status_known CHECK (status IN ('pending', 'sent', 'failed')),
      sent_at         TIMESTAMP NULL,
      created_at      TIMESTAMP DEFAULT CURRENT_TIMESTAMP
    )`);
    await q.query(`CREATE TABLE saga_events (
      id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      transaction_id VARCHAR(100) NOT NULL REFERENCES saga_states(transaction_id),
      event_type     VARCHAR(50) NOT NULL,
      payload        JSONB NOT NULL DEFAULT '{}',
      created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
      delivered_at   TIMESTAMPTZ NULL
    )`);
    // The relay and `saga recover` look only for undelivered events; keep that index small.
    await q.query('CREATE INDEX saga_events_undelivered ON saga_events (id) WHERE delivered_at IS NULL');
    await q.query('CREATE INDEX saga_events_transaction_id ON saga_events (transaction_id)');
    await q.query(`CREATE TABLE operator_audit (
      id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      at             TIMESTAMPTZ NOT NULL DEFAULT now(),
      os_user        VARCHAR(100) NOT NULL,
      host           VARCHAR(255) NOT NULL,
      action         VARCHAR(50) NOT NULL,
      transaction_id VARCHAR(100) NULL,
      reason         TEXT NOT NULL CONSTRAINT operator_audit_reason_given CHECK (length(btrim(reason)) > 0),
      outcome        VARCHAR(50) NOT NULL,
      details        JSONB NULL
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['operator_audit', 'saga_events', 'notifications', 'transaction_logs', 'saga_step_results', 'saga_states', 'items', 'users']) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
