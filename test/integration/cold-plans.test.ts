import { createTestDb, TestDb } from '../support/database';
import { createSagaClient } from '../../src/client';
import { generateRows } from '../../src/seed/copy';
import { runLoad } from '../../src/saga/load';

/**
 * The engine's statements are prepared once per connection and then run on a generic plan made
 * from the statistics of that moment. On tables just truncated (a new database looks the same),
 * that plan used to read all of saga_step_results for each saga of every batch, and kept doing so
 * as the table grew. Each lookup by a saga's key now runs through that key's index, whatever the
 * statistics said when the plan was made (src/saga/steps/phase.ts, PER_SAGA).
 */
let t: TestDb;
beforeAll(async () => {
  t = await createTestDb();
  await generateRows(t.db, { users: 50, items: 5, seed: 1, balance: '99999999.99', stock: 1_000_000 }, () => undefined);
});
afterAll(async () => { await t?.drop(); });

const scanned = async () => Object.fromEntries((await t.db.query(
  `SELECT relname, seq_tup_read::bigint::text AS n FROM pg_stat_user_tables
    WHERE relname IN ('saga_states', 'saga_step_results', 'transaction_logs')`)).map((r) => [r.relname, Number(r.n)]));

test('on freshly truncated tables, 600 sagas on two long-lived connections never read a step table whole', async () => {
  await t.db.query('TRUNCATE saga_events, saga_step_results, notifications, transaction_logs, saga_states, ledger');
  const before = await scanned();
  // Two connections: every statement runs hundreds of times on each, well past the five custom plans before a generic one.
  const client = createSagaClient({ connectionString: t.url, poolSize: 2, applicationName: 'cold-plans' });
  try {
    for (const mode of ['orchestration', 'choreography'] as const) {
      const r = await runLoad(client.db, { run: (req) => client.purchaseOutcome(req) }, { count: 300, concurrency: 8, mode, quantity: 1, seed: 1 }, () => undefined);
      expect(r.completed).toBe(300);
    }
  } finally {
    await client.close();
  }
  // A backend flushes its statistics as it exits: wait for the client's to be gone.
  for (let i = 0; i < 100; i++) {
    const [{ n }] = await t.db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'cold-plans'`);
    if (n === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const after = await scanned();
  const read = (table: string) => after[table] - before[table];
  // With the plan of an empty table: about 200,000 step rows read (each saga of each batch scanning the table).
  expect(read('saga_step_results')).toBeLessThan(2000);
  expect(read('transaction_logs')).toBeLessThan(2000);
});
