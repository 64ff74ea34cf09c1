import { createTestDb, TestDb } from '../support/database';
import { loadFixtures } from '../../src/seed/fixtures';
import { createSagaClient, exportSagas, importSagas, listAudit, planPrune, prune } from '../../src/index';

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
