import crypto from 'node:crypto';
import { DataSource } from 'typeorm';
import { Item, Notification, SagaState, SagaStepResult, TransactionLog, User } from '../src/db/entities';
import { Purchaser } from '../src/saga/load';
import { ERROR_MESSAGES, ErrorCode, PurchaseRequest, SagaStatus, StepName } from '../src/saga/types';
import { centsToText as centsText, toCents } from '../src/money';

/**
 * The baseline of the saga benchmark: the same purchase saga written the way the original
 * design's services are (UserService.validateUser and the SagaRepository of original-design.md):
 * a QueryRunner transaction per step, `findOne` with a pessimistic lock, checks, `save`, commit;
 * the saga row saved with `save()`, its status changed with `update()`, and a step-result row
 * saved with `save()` after each step. Same steps, rows and outcomes as the engine (orchestration
 * only); what differs is the cost: about a dozen transactions and twice as many round trips a saga.
 *
 * Money stays exact: the entities hold decimals as strings and the arithmetic is integer cents
 * (BigInt), never a JavaScript float.
 */

type Outcome = { ok: true; data: Record<string, unknown> } | { ok: false; code: ErrorCode; data?: Record<string, unknown> };

export class NaiveTypeormPurchaser implements Purchaser {
  constructor(private readonly ds: DataSource) {}

  async run(req: PurchaseRequest): Promise<{ status: SagaStatus; transactionId: string }> {
    const id = req.transactionId ?? crypto.randomUUID();
    const sagas = this.ds.getRepository(SagaState);
    // The price is read from items, never trusted from the caller.
    const item = await this.ds.manager.findOne(Item, { where: { itemId: req.itemId } });
    const price = item?.price ?? '0.00';
    const total = toCents(price) * BigInt(req.quantity);
    await sagas.save(sagas.create({
      transactionId: id, status: 'in_progress', userId: req.userId, itemId: req.itemId, quantity: req.quantity,
      price, mode: 'orchestration',
    }));

    const steps: [StepName, () => Promise<Outcome>][] = [
      ['validate_user', () => this.validateUser(req.userId, total, item !== null)],
      ['reserve_inventory', () => this.reserveInventory(req.itemId, req.quantity)],
      ['log_transaction', () => this.logTransaction(id, req, price, total)],
      ['send_notification', () => this.sendNotification(id, req, total)],
    ];
    const committed: StepName[] = [];
    for (const [step, run] of steps) {
      const outcome = await this.timed(id, step, 'forward', run);
      if (outcome.ok) {
        committed.push(step);
        continue;
      }
      if (step === 'send_notification') break; // a notification failure never refunds the purchase
      if (committed.length === 0) {
        await this.updateStatus(id, 'failed', outcome.code);
        return { status: 'failed', transactionId: id };
      }
      await this.updateStatus(id, 'compensating', outcome.code);
      for (const done of committed.reverse()) {
        if (done === 'send_notification') continue;
        const undo = await this.timed(id, done, 'compensation', () => this.compensate(done, id, req, total));
        if (!undo.ok) {
          await this.updateStatus(id, 'compensation_failed', 'COMPENSATION_FAILED');
          return { status: 'compensation_failed', transactionId: id };
        }
      }
      await this.updateStatus(id, 'compensated');
      return { status: 'compensated', transactionId: id };
    }
    await this.updateStatus(id, 'completed');
    return { status: 'completed', transactionId: id };
  }

  /** validate_user, as the design's UserService.validateUser, plus the limit and item checks. */
  private async validateUser(userId: string, total: bigint, itemExists: boolean): Promise<Outcome> {
    return this.inTransaction(async (qr) => {
      const user = await qr.manager.findOne(User, { where: { userId }, lock: { mode: 'pessimistic_write' } });
      if (!user) return { ok: false, code: 'USER_NOT_FOUND' };
      if (user.status !== 'active') return { ok: false, code: 'USER_NOT_ACTIVE' };
      if (!itemExists) return { ok: false, code: 'ITEM_NOT_FOUND' };
      const limit = toCents(user.purchaseLimit);
      if (limit > 0n && total > limit) return { ok: false, code: 'PURCHASE_LIMIT_EXCEEDED' };
      const balance = toCents(user.balance);
      if (balance < total) return { ok: false, code: 'INSUFFICIENT_BALANCE' };
      user.balance = centsText(balance - total);
      user.updatedAt = new Date();
      await qr.manager.save(user);
      return { ok: true, data: { amount: centsText(total), balanceAfter: user.balance } };
    });
  }

  private async reserveInventory(itemId: string, quantity: number): Promise<Outcome> {
    return this.inTransaction(async (qr) => {
      const item = await qr.manager.findOne(Item, { where: { itemId }, lock: { mode: 'pessimistic_write' } });
      if (!item) return { ok: false, code: 'ITEM_NOT_FOUND' };
      if (!item.isAvailable) return { ok: false, code: 'ITEM_NOT_AVAILABLE' };
      if (item.stock < quantity) return { ok: false, code: 'INSUFFICIENT_STOCK' };
      item.stock -= quantity;
      item.updatedAt = new Date();
      await qr.manager.save(item);
      return { ok: true, data: { quantity, stockAfter: item.stock } };
    });
  }

  private async logTransaction(id: string, req: PurchaseRequest, price: string, total: bigint): Promise<Outcome> {
    try {
      return await this.inTransaction(async (qr) => {
        const log = qr.manager.create(TransactionLog, {
          logId: `log-${id}`, transactionId: id, userId: req.userId, itemId: req.itemId, quantity: req.quantity, price,
          status: 'logged', logData: { total: centsText(total), mode: 'orchestration' },
        });
        await qr.manager.save(log);
        return { ok: true, data: { logId: log.logId } };
      });
    } catch {
      return { ok: false, code: 'LOG_FAILED' };
    }
  }

  private async sendNotification(id: string, req: PurchaseRequest, total: bigint): Promise<Outcome> {
    const channels = ['email', 'push'];
    try {
      return await this.inTransaction(async (qr) => {
        const note = qr.manager.create(Notification, {
          notificationId: `ntf-${id}`, transactionId: id, userId: req.userId, type: 'purchase_completed',
          message: `Purchased ${req.quantity} x ${req.itemId} for ${centsText(total)}`, channels, status: 'sent', sentAt: new Date(),
        });
        await qr.manager.save(note);
        return { ok: true, data: { notificationId: note.notificationId, channels } };
      });
    } catch {
      return { ok: false, code: 'NOTIFICATION_FAILED' };
    }
  }

  /** The undo of a committed step, as the design's compensateUserValidation: one update() each. */
  private async compensate(step: StepName, id: string, req: PurchaseRequest, total: bigint): Promise<Outcome> {
    const now = new Date();
    let affected: number | undefined;
    if (step === 'validate_user') {
      // centsText yields digits, a dot and digits only: safe to place in the SQL expression.
      affected = (await this.ds.getRepository(User).update({ userId: req.userId },
        { balance: () => `balance + ${centsText(total)}`, updatedAt: now })).affected;
      return affected ? { ok: true, data: { refunded: centsText(total) } } : { ok: false, code: 'COMPENSATION_FAILED' };
    }
    if (step === 'reserve_inventory') {
      affected = (await this.ds.getRepository(Item).update({ itemId: req.itemId },
        { stock: () => `stock + ${Number(req.quantity)}`, updatedAt: now })).affected;
      return affected ? { ok: true, data: { restocked: req.quantity } } : { ok: false, code: 'COMPENSATION_FAILED' };
    }
    affected = (await this.ds.getRepository(TransactionLog).update({ logId: `log-${id}` }, { status: 'reversed' })).affected;
    return affected ? { ok: true, data: { logId: `log-${id}`, status: 'reversed' } } : { ok: false, code: 'COMPENSATION_FAILED' };
  }

  /** Runs a step and saves its result row (the design's SagaRepository.addStepResult). */
  private async timed(id: string, step: StepName, kind: 'forward' | 'compensation', run: () => Promise<Outcome>): Promise<Outcome> {
    const t0 = performance.now();
    const outcome = await run();
    const result = this.ds.getRepository(SagaStepResult).create({
      transactionId: id, step, kind, status: outcome.ok ? 'succeeded' : 'failed',
      errorCode: outcome.ok ? null : outcome.code, errorMessage: outcome.ok ? null : ERROR_MESSAGES[outcome.code],
      data: outcome.data ?? {}, durationMs: (performance.now() - t0).toFixed(3),
    });
    await this.ds.getRepository(SagaStepResult).save(result);
    return outcome;
  }

  /** The design's SagaRepository.updateStatus. */
  private async updateStatus(id: string, status: SagaStatus, code?: ErrorCode): Promise<void> {
    const now = new Date();
    await this.ds.getRepository(SagaState).update({ transactionId: id }, {
      status, updatedAt: now,
      ...(code ? { errorCode: code, errorMessage: ERROR_MESSAGES[code] } : {}),
      ...(status === 'completed' ? { completedAt: now } : {}),
    });
  }

  /** A QueryRunner transaction; a rejected step rolls back (the design's code forgot to). */
  private async inTransaction(fn: (qr: ReturnType<DataSource['createQueryRunner']>) => Promise<Outcome>): Promise<Outcome> {
    const qr = this.ds.createQueryRunner();
    try {
      await qr.startTransaction();
      const outcome = await fn(qr);
      if (outcome.ok) await qr.commitTransaction();
      else await qr.rollbackTransaction();
      return outcome;
    } catch (err) {
      if (qr.isTransactionActive) await qr.rollbackTransaction().catch(() => undefined);
      throw err;
    } finally {
      await qr.release();
    }
  }
}
