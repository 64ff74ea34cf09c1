import { setTimeout as sleep } from 'node:timers/promises';
import { createTestDb, TestDb } from '../support/database';
import { runMain } from '../support/cli';
import { runnerOn } from '../support/saga';
import { loadFixtures } from '../../src/seed/fixtures';
import { runChecks, CheckReport } from '../../src/health/check';
import { CHOREOGRAPHY_INVARIANTS } from '../../src/health/choreography';
import { SagaRunner } from '../../src/saga/service';
import { DEFAULT_LOCK_TIMEOUT_MS, leaseOwner } from '../../src/saga/engine';
import { createSagaClient } from '../../src/client';
import { PurchaseRequest, SagaMode } from '../../src/saga/types';

let t: TestDb;
beforeAll(async () => {
  t = await createTestDb();
  await loadFixtures(t.db);
});
afterAll(async () => { await t.drop(); });

const RULES = CHOREOGRAPHY_INVARIANTS.map((i) => i.name);
const buy = (transactionId: string, mode: SagaMode, extra: Partial<PurchaseRequest> = {}) =>
  runnerOn(t.db).run({ userId: 'user-123', itemId: 'item-potion', quantity: 1, mode, transactionId, ...extra });
const rule = (r: CheckReport, name: string) => r.checks.find((c) => c.name === name)!;
const failing = (r: CheckReport) => r.checks.filter((c) => !c.ok).map((c) => c.name);
/** A lease of one second, so a saga left half done by this "crashed" runner is stuck a moment later. */
const shortLived = () => new SagaRunner({ db: t.db, owner: leaseOwner(), leaseMs: 1000, lockTimeoutMs: DEFAULT_LOCK_TIMEOUT_MS, grouping: false });
/** A choreography saga whose process stopped right after its first step: reserve_inventory.run waits in the outbox. */
const halfDone = (id: string) => shortLived().engine.start({ id, mode: 'choreography', userId: 'user-123', itemId: 'item-potion', quantity: 1, inject: false });

test('a healthy database with both modes, every outcome, and operators taking over choreography sagas: every rule passes, exit 0', async () => {
  for (const mode of ['orchestration', 'choreography'] as const) {
    await buy(`ok-${mode}-completed`, mode);
    await buy(`ok-${mode}-no-stock`, mode, { itemId: 'item-out-of-stock' });
    await buy(`ok-${mode}-log-failed`, mode, { failAt: 'log_transaction' });
    await buy(`ok-${mode}-notify-failed`, mode, { failAt: 'send_notification' });
    await buy(`ok-${mode}-suspended`, mode, { userId: 'user-suspended' });
  }
  // Operators: compensate and recover mark the waiting events delivered, audited in the same transaction.
  for (const id of ['ok-operator-compensated', 'ok-recovered-resume', 'ok-recovered-compensate']) await halfDone(id);
  await sleep(1100);
  const client = createSagaClient({ connectionString: t.url });
  try {
    const [c] = await client.compensate(['ok-operator-compensated'], { reason: 'test', olderThanMs: 0 });
    expect(c).toMatchObject({ outcome: 'compensated' });
    // A finished purchase undone by hand: each undo emits the next undo's event, superseded at once.
    const [refund] = await client.compensate(['ok-choreography-completed'], { reason: 'test', olderThanMs: 0, includeCompleted: true });
    expect(refund).toMatchObject({ outcome: 'compensated' });
    const stuck = await client.findStuck({ olderThanMs: 0 });
    const pick = (id: string) => stuck.filter((s) => s.transactionId === id);
    expect((await client.recover({ olderThanMs: 0, strategy: 'resume', candidates: pick('ok-recovered-resume') })).results[0].after).toBe('completed');
    expect((await client.recover({ olderThanMs: 0, strategy: 'compensate', candidates: pick('ok-recovered-compensate') })).results[0].after).toBe('compensated');
  } finally {
    await client.close();
  }
  // The events the operators superseded are delivered with no step of theirs: the audit row explains them.
  const superseded = await t.db.query(`SELECT e.transaction_id AS id FROM saga_events e
     WHERE e.event_type = 'reserve_inventory.run' AND e.delivered_at IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM saga_step_results r WHERE r.transaction_id = e.transaction_id AND r.step = 'reserve_inventory')
     ORDER BY 1`);
  expect(superseded.map((x) => x.id)).toEqual(['ok-operator-compensated', 'ok-recovered-compensate']);
  const events = await t.db.query(`SELECT count(*)::int AS n FROM saga_events`);
  expect(events[0].n).toBeGreaterThan(10);
  // --older-than 0: the outbox rules are at their strictest, and still nothing is found.
  const r = await runChecks(t.db, { olderThanMs: 0 });
  expect(failing(r)).toEqual([]);
  const human = await runMain(['db', 'check', '--older-than', '0s'], { DATABASE_URL: t.url });
  expect(human.code).toBe(0);
  for (const name of RULES) expect(human.stdout).toMatch(new RegExp(`${name}\\s+pass`));
});

test('an undo that failed consumed its event and recorded nothing: not a choreography finding (the stuck rule reports it)', async () => {
  const runner = runnerOn(t.db);
  await runner.driver.purchase('ok-undo-failed', { mode: 'choreography', userId: 'user-123', itemId: 'item-potion', quantity: 1 },
    { forward: 'log_transaction', undo: 'reserve_inventory' });
  expect((await t.db.query(`SELECT status FROM saga_states WHERE transaction_id = 'ok-undo-failed'`))[0].status).toBe('compensation_failed');
  const r = await runChecks(t.db, { olderThanMs: 0 });
  expect(failing(r)).toEqual(['no_stuck_sagas']);
});

test('each broken outbox state, made with plain SQL, fails its own rule, naming the sagas; exit 6', async () => {
  // Undelivered for an hour: an event nobody consumed.
  await buy('bad-undelivered', 'choreography');
  await t.db.query(`INSERT INTO saga_events (transaction_id, event_type, created_at) VALUES ('bad-undelivered', 'send_notification.run', now() - interval '1 hour')`);
  // In flight with a live lease, so not stuck, yet its event has waited an hour: nobody delivers it.
  await runnerOn(t.db).engine.start({ id: 'bad-undelivered-driven', mode: 'choreography', userId: 'user-123', itemId: 'item-potion', quantity: 1, inject: false });
  await t.db.query(`UPDATE saga_events SET created_at = now() - interval '1 hour' WHERE transaction_id = 'bad-undelivered-driven'`);
  // Stuck (its lease ran out an hour ago), its event waiting as long: left to no_stuck_sagas.
  await halfDone('ok-stuck-waiting');
  await t.db.query(`UPDATE saga_events SET created_at = now() - interval '1 hour' WHERE transaction_id = 'ok-stuck-waiting'`);
  await t.db.query(`UPDATE saga_states SET updated_at = updated_at - interval '1 hour', lease_expires_at = now() - interval '1 hour' WHERE transaction_id = 'ok-stuck-waiting'`);
  await t.db.query(`UPDATE saga_step_results SET executed_at = executed_at - interval '1 hour' WHERE transaction_id = 'ok-stuck-waiting'`);
  // Delivered, but the step it triggers never ran: its forward record is gone.
  await buy('bad-delivered-no-step', 'choreography');
  await t.db.query(`DELETE FROM saga_step_results WHERE transaction_id = 'bad-delivered-no-step' AND step = 'send_notification'`);
  // A compensate event delivered with no compensation record.
  await buy('bad-compensate-no-record', 'choreography', { itemId: 'item-out-of-stock' });
  await t.db.query(`DELETE FROM saga_step_results WHERE transaction_id = 'bad-compensate-no-record' AND kind = 'compensation'`);
  // In flight, its last step committed, its next event never written, unmoved for an hour.
  await halfDone('bad-never-emitted');
  await t.db.query(`DELETE FROM saga_events WHERE transaction_id = 'bad-never-emitted'`);
  await t.db.query(`UPDATE saga_states SET updated_at = updated_at - interval '1 hour' WHERE transaction_id = 'bad-never-emitted'`);
  await t.db.query(`UPDATE saga_step_results SET executed_at = executed_at - interval '1 hour' WHERE transaction_id = 'bad-never-emitted'`);
  // The same event type delivered twice.
  await buy('bad-twice', 'choreography');
  await t.db.query(`INSERT INTO saga_events (transaction_id, event_type, delivered_at) VALUES ('bad-twice', 'log_transaction.run', now())`);

  const r = await runChecks(t.db, { olderThanMs: 600_000 });
  expect(rule(r, 'outbox_events_delivered')).toMatchObject({ ok: false, count: 2, sample: [
    { id: 'bad-undelivered', status: 'completed', events: 1, eventTypes: ['send_notification.run'] },
    { id: 'bad-undelivered-driven', status: 'in_progress', events: 1, eventTypes: ['reserve_inventory.run'] }] });
  // The stuck saga's waiting event is the stuck rule's finding, not counted twice.
  expect(rule(r, 'no_stuck_sagas').sample.map((x) => x.id)).toContain('ok-stuck-waiting');
  expect(rule(r, 'delivered_events_acted_on')).toMatchObject({ ok: false, count: 2, sample: [
    { id: 'bad-compensate-no-record', eventTypes: ['validate_user.compensate'] },
    { id: 'bad-delivered-no-step', eventTypes: ['send_notification.run'] }] });
  expect(rule(r, 'no_saga_waits_on_missing_event')).toMatchObject({ ok: false, count: 1,
    sample: [{ id: 'bad-never-emitted', status: 'in_progress', expectedEvent: 'reserve_inventory.run' }] });
  expect(rule(r, 'events_delivered_once')).toMatchObject({ ok: false, count: 1, sample: [{ id: 'bad-twice:log_transaction.run', deliveries: 2 }] });
  // Under a threshold longer than their age, the time-bound rules hold.
  const patient = await runChecks(t.db, { olderThanMs: 2 * 3_600_000 });
  expect(rule(patient, 'outbox_events_delivered').ok).toBe(true);
  expect(rule(patient, 'no_saga_waits_on_missing_event').ok).toBe(true);

  const json = await runMain(['db', 'check', '--json', '--older-than', '10m'], { DATABASE_URL: t.url });
  expect(json.code).toBe(6);
  const failed = JSON.parse(json.stdout).checks.filter((c: { ok: boolean }) => !c.ok).map((c: { name: string }) => c.name);
  for (const name of RULES) expect(failed).toContain(name);
  expect(json.stderr).toMatch(/outbox_events_delivered, delivered_events_acted_on, no_saga_waits_on_missing_event, events_delivered_once/);
});
