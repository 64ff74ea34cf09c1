import { StateError } from '../errors';
import { Engine, EngineDeps } from './engine';
import { SagaDriver } from './driver';
import { uuidv7 } from './ids';
import { PurchaseRequest, SagaOutcome, SagaStatus } from './types';

/** Runs purchases in-process with either driver; one instance per process (it owns the bus and the batches). */
export class SagaRunner {
  readonly engine: Engine;
  readonly driver: SagaDriver;

  /** `onSettled` hears of every saga this runner wrote to (the cache invalidates it). */
  constructor(deps: EngineDeps, private readonly onSettled: (id: string) => void = () => undefined) {
    this.engine = new Engine(deps);
    this.driver = new SagaDriver(this.engine);
  }

  get deps(): EngineDeps {
    return this.engine.deps;
  }

  /**
   * Runs one purchase to its end. A given id is an idempotency key: when it exists with the same
   * request, it is reported as it is and nothing runs; with another request, it is refused (exit 3).
   * Checked first, and enforced by the primary key in a race.
   */
  async run(req: PurchaseRequest): Promise<SagaOutcome> {
    const id = req.transactionId ?? uuidv7();
    if (req.transactionId !== undefined) {
      const existing = await this.existing(id, req);
      if (existing) return existing;
    }
    let settled;
    try {
      settled = await this.driver.purchase(id, req, { forward: req.failAt });
    } finally {
      this.onSettled(id);
    }
    // The id raced in from another run: report that saga, as a replay.
    if (!settled) return (await this.existing(id, req))!;
    return { transactionId: id, status: settled.status, errorCode: settled.errorCode, executed: true };
  }

  private async existing(id: string, req: PurchaseRequest): Promise<SagaOutcome | undefined> {
    const rows = await this.deps.db.query<{ status: SagaStatus; error_code: string | null; user_id: string; item_id: string; quantity: number; mode: string }>(
      'SELECT status, error_code, user_id, item_id, quantity, mode FROM saga_states WHERE transaction_id = $1', [id]);
    const row = rows[0];
    if (!row) return undefined;
    const differs = (['userId', 'itemId', 'quantity', 'mode'] as const).filter((k) =>
      String(req[k]) !== String({ userId: row.user_id, itemId: row.item_id, quantity: row.quantity, mode: row.mode }[k]));
    if (differs.length > 0) {
      throw new StateError(`Saga ${id} exists with another request (${differs.join(', ')} differ): an id is an idempotency key, reused here for a different purchase.`,
        'Use a new --id, or the same parameters to read back the existing saga.');
    }
    return { transactionId: id, status: row.status, errorCode: row.error_code, executed: false };
  }
}
