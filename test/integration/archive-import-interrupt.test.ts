import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDb, TestDb } from '../support/database';
import { runMain } from '../support/cli';

/**
 * Ctrl-C during saga import, seen where the import looks for it (the progress tick after each
 * batch): exit 130, the batches written stay, the run is audited as interrupted with what it
 * imported, and the same import again finishes. The import writes one batch while it reads the
 * next, so the tick's error must end the run like a failed write, never as an unhandled rejection.
 */
let source: TestDb;
let target: TestDb;
let dir: string;
let file: string;
const SAGAS = 5000;

beforeAll(async () => {
  [source, target] = await Promise.all([createTestDb(), createTestDb()]);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-import-int-'));
  file = path.join(dir, 'backup.ndjson');
  const src = (...argv: string[]) => runMain(argv, { DATABASE_URL: source.url });
  expect((await src('seed', 'generate', '--users', '50', '--items', '5', '--sagas', String(SAGAS))).code).toBe(0);
  expect((await src('saga', 'export', '--output', file)).code).toBe(0);
}, 60_000);
afterAll(async () => {
  await Promise.all([source?.drop(), target?.drop()]);
  fs.rmSync(dir, { recursive: true, force: true });
});

const sagas = async () => (await target.db.query('SELECT count(*)::int AS n FROM saga_states'))[0].n as number;

test('interrupted between batches: exit 130, audited as interrupted with what went in; the same import again finishes', async () => {
  const ctrlC = new AbortController();
  const running = runMain(['saga', 'import', file, '--reason', 'INC-90'], { DATABASE_URL: target.url }, false, ctrlC.signal);
  const deadline = Date.now() + 30_000;
  while ((await sagas()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  ctrlC.abort('SIGINT');
  const r = await running;
  expect(r.code).toBe(130);
  expect(r.stderr).toMatch(/Interrupted by SIGINT\. Stopped after [\d,]+ of [\d,]+ bytes \(saga import\)\./);
  const imported = await sagas();
  expect(imported).toBeGreaterThan(0);
  expect(imported).toBeLessThan(SAGAS);
  const audit = await target.db.query(`SELECT outcome, reason, details FROM operator_audit WHERE action = 'import'`);
  expect(audit).toEqual([{ outcome: 'interrupted', reason: 'INC-90', details: expect.objectContaining({ imported: expect.objectContaining({ saga: imported }), complete: false }) }]);

  const again = await runMain(['saga', 'import', file, '--json'], { DATABASE_URL: target.url });
  expect(again.code).toBe(0);
  expect(JSON.parse(again.stdout)).toMatchObject({ imported: { saga: SAGAS - imported }, skipped: { saga: imported }, complete: true });
  const check = await runMain(['db', 'check', '--json'], { DATABASE_URL: target.url });
  expect(JSON.parse(check.stdout).checks.filter((c: { ok: boolean; name: string }) => !c.ok && c.name !== 'no_stuck_sagas')).toEqual([]);
}, 60_000);
