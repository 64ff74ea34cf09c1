import { PG, pgCode } from '../db/pg-errors';
import { EngineDeps } from './engine';
import { uuidv7 } from './ids';
import { orchestrate } from './orchestrator';
import { Choreography } from './choreography';
import { PurchaseRequest, SagaOutcome, SagaStatus } from './types';

/** Runs purchases in-process with either driver; one instance per process (it owns the bus). */
export class SagaRunner {
  private readonly choreography: Choreography;

  /** `onSettled` hears of every saga this runner wrote to (the cache invalidates it). */
  constructor(readonly deps: EngineDeps, private readonly onSettled: (id: string) => void = () => undefined) {
    this.choreography = new Choreography(deps);
  }

  /**
   * Runs one purchase to its end. An id that exists already is reported as it is and nothing is
   * executed (an idempotency key): checked first, and enforced by the primary key in a race.
   */
  async run(req: PurchaseRequest): Promise<SagaOutcome> {
    const id = req.transactionId ?? uuidv7();
    if (req.transactionId !== undefined) {
      const existing = await this.existing(id);
      if (existing) return existing;
    }
    try {
      const status = req.mode === 'orchestration' ? await orchestrate(this.deps, id, req) : await this.choreography.run(id, req);
      this.onSettled(id);
      return { transactionId: id, status, errorCode: null, executed: true };
    } catch (err) {
      this.onSettled(id);
      if (pgCode(err) === PG.uniqueViolation && req.transactionId !== undefined) {
        const existing = await this.existing(id);
        if (existing) return existing;
      }
      throw err;
    }
  }

  get bus() {
    return this.choreography.bus;
  }

  private async existing(id: string): Promise<SagaOutcome | undefined> {
    const rows = await this.deps.db.query<{ status: SagaStatus; error_code: string | null }>(
      'SELECT status, error_code FROM saga_states WHERE transaction_id = $1', [id]);
    return rows[0] && { transactionId: id, status: rows[0].status, errorCode: rows[0].error_code, executed: false };
  }
}
