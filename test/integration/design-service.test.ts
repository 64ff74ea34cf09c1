import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { createTestDb, TestDb } from '../support/database';
import { runMain } from '../support/cli';
import { balanceOf } from '../support/saga';
import { designDataSource, SagaRepository, UserService } from '../support/design/service';
import { SagaState, SagaStepResult } from '../support/design/entities';
import { loadFixtures } from '../../src/seed/fixtures';
import { createSagaClient } from '../../src/index';

/**
 * The design's own service code (test/support/design: its entities, SagaRepository, UserService,
 * its data source as product.md configures it) writing to a database `sagactl migrate up` built,
 * the design's way (separate transactions, no lease, no ledger attribution), then handed to
 * sagactl's operator commands. Nothing may be lost or paid twice, and nothing live taken over.
 */
let t: TestDb;
let ds: DataSource;
let repo: SagaRepository;
let users: UserService;
beforeAll(async () => {
  t = await createTestDb();
  ds = await designDataSource(t.url).initialize();
  repo = new SagaRepository(ds);
  users = new UserService(ds);
});
afterAll(async () => {
  await ds.destroy();
  await t.drop();
});
beforeEach(async () => {
  await t.db.query('TRUNCATE saga_events, saga_step_results, notifications, transaction_logs, saga_states, operator_audit, users, items, ledger');
  await loadFixtures(t.db, { reset: true });
});

const cli = (...argv: string[]) => runMain(argv, { DATABASE_URL: t.url });
const json = async (...argv: string[]) => {
  const r = await cli(...argv, '--json');
  return { code: r.code, out: r.stdout ? JSON.parse(r.stdout) : undefined, stderr: r.stderr };
};
const failing = async () => (await json('db', 'check')).out.checks.filter((c: { ok: boolean }) => !c.ok).map((c: { name: string }) => c.name);

/** A saga as the design's orchestrator begins one: saved pending, with the price it was told. */
async function begin(id: string, itemId = 'item-sword', price = 100): Promise<void> {
  const saga = new SagaState();
  Object.assign(saga, { transactionId: id, status: 'pending', userId: 'user-123', itemId, quantity: 1, price });
  await repo.save(saga);
}

async function stepResult(id: string, step: string, status = 'succeeded'): Promise<void> {
  const r = new SagaStepResult();
  Object.assign(r, { step, status, data: { amount: 100 } });
  await repo.addStepResult(id, r);
}

/** The saga has not moved for two minutes: past the one-minute default of --older-than. */
const age = (id: string) => Promise.all([
  t.db.query(`UPDATE saga_states SET updated_at = updated_at - interval '2 minutes', created_at = created_at - interval '2 minutes'
               WHERE transaction_id = $1`, [id]),
  t.db.query(`UPDATE saga_step_results SET executed_at = executed_at - interval '2 minutes' WHERE transaction_id = $1`, [id]),
  t.db.query(`UPDATE ledger SET at = at - interval '2 minutes' WHERE account_id = 'user-123'`),
]);

test('the design\'s repository writes and reads sagas on our schema: no mode needed, its reads see the engine\'s sagas', async () => {
  await begin('design-1');
  expect((await repo.findById('design-1'))!.status).toBe('pending');
  expect((await t.db.query(`SELECT mode FROM saga_states WHERE transaction_id = 'design-1'`))[0].mode).toBe('orchestration');
  await repo.updateStatus('design-1', 'completed');
  expect((await repo.findById('design-1'))!.completedAt).toBeInstanceOf(Date);

  // A purchase through the library on the design's own DataSource, read back by the design's repository.
  const client = createSagaClient({ dataSource: ds });
  const saga = await client.purchase({ userId: 'user-123', itemId: 'item-potion', quantity: 2, mode: 'choreography' });
  await client.close();
  expect(saga).toMatchObject({ status: 'completed', total: '40.00' });
  const seen = await repo.findWithSteps(saga.transactionId);
  expect(seen!.steps.map((s) => s.step).sort()).toEqual(['log_transaction', 'reserve_inventory', 'send_notification', 'validate_user']);
  const shown = await json('saga', 'show', saga.transactionId);
  expect(shown.out.steps).toHaveLength(4);
});

test('what the database can check row by row it refuses, naming what is wrong', async () => {
  await begin('design-2');
  await expect(stepResult('design-2', 'validate_user', 'completed')).rejects.toThrow(/saga_step_results_status_known/);
  await expect(stepResult('design-2', 'charge_card')).rejects.toThrow(/saga_step_results_step_known/);
  await stepResult('design-2', 'validate_user');
  await expect(stepResult('design-2', 'validate_user')).rejects.toThrow(/saga_step_results_once/);
  await expect(t.db.query(`UPDATE users SET balance = -1 WHERE user_id = 'user-456'`)).rejects.toThrow(/users_balance_non_negative/);
});

test('a debit committed without its step record: refused with the facts, db check names it; the audited override refunds it once', async () => {
  await begin('design-lost');
  expect((await users.validateUser({ userId: 'user-123', transactionId: 'design-lost', requiredBalance: 100 })).isValid).toBe(true);
  // The service dies here, before addStepResult: the debit is committed, no record says so.
  await age('design-lost');
  expect(await balanceOf(t.db, 'user-123')).toBe('900.00');

  const stuck = await json('saga', 'stuck');
  expect(stuck.out.stuck).toEqual([expect.objectContaining({ transactionId: 'design-lost', why: expect.stringMatching(/no lease/) })]);
  const refused = await json('saga', 'compensate', 'design-lost', '--reason', 'INC-1', '--yes');
  expect(refused.code).toBe(3);
  expect(refused.out.results[0]).toMatchObject({ outcome: 'refused', verified: null });
  expect(refused.out.results[0].facts.join('\n')).toMatch(/user user-123 -100.00 .* \(sagactl-test|user user-123 -100.00/);
  expect(await balanceOf(t.db, 'user-123')).toBe('900.00');
  expect(await failing()).toEqual(['movements_explained', 'no_stuck_sagas']);

  const fixed = await json('saga', 'compensate', 'design-lost', '--undo', 'validate_user', '--reason', 'INC-1: debit checked by hand', '--yes');
  expect(fixed.code).toBe(0);
  expect(fixed.out.results[0]).toMatchObject({ outcome: 'compensated', verified: true });
  expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
  expect(await failing()).toEqual([]);
  const again = await json('saga', 'compensate', 'design-lost', '--undo', 'validate_user', '--reason', 'twice?', '--yes');
  expect(again.code).toBe(3);
  expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
});

test('a saga the service refunded already, with no record of it: never paid twice, even by the override', async () => {
  await begin('design-refunded');
  await users.validateUser({ userId: 'user-123', transactionId: 'design-refunded', requiredBalance: 100 });
  await stepResult('design-refunded', 'validate_user');
  expect(await users.compensateUserValidation('user-123', 100, 'design-refunded')).toBe(true);
  // The service dies before updateStatus: the saga still says pending.
  await age('design-refunded');
  expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');

  const refused = await json('saga', 'compensate', 'design-refunded', '--reason', 'INC-2', '--yes');
  expect(refused.code).toBe(3);
  expect(refused.out.results[0].facts.join('\n')).toMatch(/validate_user forward is recorded, but the ledger shows no movement/);
  const override = await json('saga', 'compensate', 'design-refunded', '--undo', 'validate_user', '--reason', 'INC-2', '--yes');
  expect(override.code).toBe(3);
  expect(override.out.results[0].detail).toMatch(/taken back already/);
  const recovered = await json('saga', 'recover', '--yes');
  expect(recovered.code).toBe(3);
  expect(recovered.out.refused).toBe(1);
  expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
  expect(await failing()).toEqual(expect.arrayContaining(['movements_explained', 'steps_have_movements']));
});

test('a saga the service is still driving (no lease) is not stuck, and recover leaves it alone, until it stops moving', async () => {
  await begin('design-live');
  await users.validateUser({ userId: 'user-123', transactionId: 'design-live', requiredBalance: 100 });
  await stepResult('design-live', 'validate_user');
  expect((await json('saga', 'stuck')).out.stuck).toEqual([]);
  const recovered = await json('saga', 'recover', '--yes');
  expect(recovered.out.results).toEqual([]);
  expect((await json('stats')).out.stuck).toBe(0);
  expect((await json('db', 'check')).out.checks.find((c: { name: string }) => c.name === 'no_stuck_sagas').ok).toBe(true);
  await age('design-live');
  expect((await json('saga', 'stuck')).out.stuck.map((s: { transactionId: string }) => s.transactionId)).toEqual(['design-live']);
  expect((await json('stats')).out.stuck).toBe(1);
});

describe('an outside refund (the design\'s compensateUserValidation) and saga compensate, in every order', () => {
  async function completed(): Promise<string> {
    const client = createSagaClient({ connectionString: t.url });
    const saga = await client.purchase({ userId: 'user-123', itemId: 'item-sword', quantity: 1, mode: 'orchestration' });
    await client.close();
    return saga.transactionId;
  }
  const compensate = (id: string) => json('saga', 'compensate', id, '--include-completed', '--reason', 'refund ticket', '--yes');

  test('refund first: compensate is refused and pays nothing more', async () => {
    const id = await completed();
    await users.compensateUserValidation('user-123', 100, id);
    const r = await compensate(id);
    expect(r.code).toBe(3);
    expect(r.out.results[0].detail).toMatch(/nobody explained/);
    expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
  });

  test('refund in flight while compensate decides: compensate waits for the row, then sees it and refuses', async () => {
    const id = await completed();
    const outside = await ds.createQueryRunner();
    await outside.startTransaction();
    await outside.query(`UPDATE users SET balance = balance + 100 WHERE user_id = 'user-123'`);
    const pending = compensate(id);
    await new Promise((r) => setTimeout(r, 500));
    await outside.commitTransaction();
    await outside.release();
    const r = await pending;
    expect(r.code).toBe(3);
    expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
  });

  test('refund in flight and rolled back: compensate then refunds, once, verified', async () => {
    const id = await completed();
    const outside = await ds.createQueryRunner();
    await outside.startTransaction();
    await outside.query(`UPDATE users SET balance = balance + 100 WHERE user_id = 'user-123'`);
    const pending = compensate(id);
    await new Promise((r) => setTimeout(r, 500));
    await outside.rollbackTransaction();
    await outside.release();
    const r = await pending;
    expect(r.code).toBe(0);
    expect(r.out.results[0]).toMatchObject({ outcome: 'compensated', verified: true });
    expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
  });

  test('refund after compensate: compensate was right and verified; the late refund is named by db check', async () => {
    const id = await completed();
    const r = await compensate(id);
    expect(r.out.results[0]).toMatchObject({ outcome: 'compensated', verified: true });
    await users.compensateUserValidation('user-123', 100, id);
    expect(await balanceOf(t.db, 'user-123')).toBe('1100.00');
    const check = await json('db', 'check');
    expect(check.code).toBe(6);
    const unexplained = check.out.checks.find((c: { name: string }) => c.name === 'movements_explained');
    expect(unexplained.sample).toEqual([expect.objectContaining({ account: 'user', accountId: 'user-123', delta: '100.00' })]);
  });
});
