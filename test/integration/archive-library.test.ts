import { createTestDb, TestDb } from '../support/database';
import { loadFixtures } from '../../src/seed/fixtures';
import { createSagaClient, exportSagas, importSagas, listAudit, planPrune, prune } from '../../src/index';
import { generateRows } from '../../src/seed/copy';
import { parseGenerateOptions } from '../../src/seed/generate';
import type { SagaFilter } from '../../src/saga/filter';

/** Export, import, prune and the audit viewer from the library's front door, on a client's db, no terminal. */
let a: TestDb;
let b: TestDb;
beforeAll(async () => {
  [a, b] = await Promise.all([createTestDb(), createTestDb()]);
  await loadFixtures(a.db);
});
afterAll(async () => { await Promise.all([a?.drop(), b?.drop()]); });

test('a program exports to a string, imports it elsewhere, prunes and reads the audit', async () => {
  const source = createSagaClient({ connectionString: a.url });
  const target = createSagaClient({ connectionString: b.url });
  const actor = { user: 'svc', host: 'test' };
  try {
    await source.purchase({ userId: 'user-123', itemId: 'item-sword', quantity: 1, id: 'lib-1' });
    let text = '';
    const exported = await exportSagas(source.db, { filter: { userId: 'user-123' }, format: 'ndjson', write: (t) => void (text += t) });
    expect(exported).toMatchObject({ sagas: 1, users: 1, items: 1 });

    async function* lines() { yield* text.trimEnd().split('\n'); }
    const imported = await importSagas(target.db, lines(), { actor, reason: 'copy for a test', source: 'memory' });
    expect(imported).toMatchObject({ imported: { saga: 1, user: 1, item: 1 }, complete: true, refused: 0 });
    expect(await target.getSaga('lib-1')).toEqual(await source.getSaga('lib-1'));

    const plan = await planPrune(target.db, { filter: {}, before: new Date(Date.now() + 60_000), beforeMs: 0 });
    expect(plan.statuses).toEqual(['completed', 'compensated', 'failed']);
    const pruned = await prune(target.db, { filter: {}, before: new Date(), beforeMs: 0, batch: 10, actor, reason: 'test' });
    expect(pruned.deleted + pruned.deferred).toBe(1);

    const page = await listAudit(target.db, { filter: {}, limit: 10 });
    expect(page.entries.map((e) => [e.action, e.osUser, e.reason])).toEqual([['prune', 'svc', 'test'], ['import', 'svc', 'copy for a test']]);
  } finally {
    await source.close();
    await target.close();
  }
});

describe('on 4,000 generated sagas', () => {
  let c: TestDb;
  beforeAll(async () => {
    c = await createTestDb();
    await generateRows(c.db, parseGenerateOptions({ users: '200', items: '20', sagas: '4000', end: '2026-11-01T00:00:00Z' }), () => undefined);
  });
  afterAll(async () => { await c?.drop(); });

  const exportText = async (filter: SagaFilter, jobs: number) => {
    const chunks: string[] = [];
    const result = await exportSagas(c.db, { filter, format: 'ndjson', jobs, write: (t) => void chunks.push(t.toString()) });
    const records = chunks.join('').trimEnd().split('\n').filter((l) => !l.includes('"type":"header"'));
    return { result, records };
  };

  test('--jobs 3 cuts a filtered selection into id ranges: the same lines as one job, each whole', async () => {
    const filter: SagaFilter = { status: ['completed', 'failed'], since: new Date('2026-10-01T00:00:00Z') };
    const one = await exportText(filter, 1);
    const three = await exportText(filter, 3);
    expect(one.result.sagas).toBeGreaterThan(1000);
    expect(three.result.sagas).toBe(one.result.sagas);
    // The same lines, each whole: a line spliced from two jobs' output would be in neither list.
    expect([...three.records].sort()).toEqual([...one.records].sort());
  });

  test("a saga's rows come out in id order whatever their order on disk (one export, and by filter)", async () => {
    const [{ id, user }] = await c.db.query(`SELECT s.transaction_id AS id, s.user_id AS "user" FROM saga_states s
      WHERE (SELECT count(*) FROM saga_step_results r WHERE r.transaction_id = s.transaction_id) >= 3 ORDER BY 1 LIMIT 1`);
    // Written again in reverse: on disk (and in the transaction_id index) the last step comes first.
    await c.db.query(`WITH gone AS (DELETE FROM saga_step_results WHERE transaction_id = $1 RETURNING *)
      INSERT INTO saga_step_results SELECT * FROM gone ORDER BY id DESC`, [id]);
    const onDisk = await c.db.query(`SELECT id FROM saga_step_results WHERE transaction_id = $1 ORDER BY ctid`, [id]);
    expect(onDisk.map((r) => r.id)).toEqual([...onDisk.map((r) => r.id)].sort((x, y) => x - y).reverse());
    const byId = (await c.db.query(`SELECT step, kind FROM saga_step_results WHERE transaction_id = $1 ORDER BY id`, [id]))
      .map((r) => `${r.step}/${r.kind}`);
    for (const filter of [{}, { userId: [user] }] as SagaFilter[]) {
      const line = (await exportText(filter, 1)).records.map((l) => JSON.parse(l)).find((r) => r.type === 'saga' && r.saga.transaction_id === id);
      expect(line.steps.map((st: { step: string; kind: string }) => `${st.step}/${st.kind}`)).toEqual(byId);
    }
  });

  test('a sink that fails mid-export: its error surfaces, the server stops, the pool is usable', async () => {
    // Fails on the first chunk of saga lines: the COPY of 4,000 sagas is then mid-way.
    const failing = exportSagas(c.db, { filter: {}, format: 'ndjson', write: (chunk) => {
      if (/"type" ?: ?"saga"/.test(chunk.toString())) throw new Error('disk full (test)');
    } });
    await expect(failing).rejects.toThrow('disk full (test)');
    const active = await c.db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database()
      AND pid <> pg_backend_pid() AND query LIKE 'COPY%' AND state = 'active'`);
    expect(active[0].n).toBe(0);
    expect(await c.db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });
});
