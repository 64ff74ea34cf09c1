import { Engine, StepResult } from './engine';
import { EventBus, SagaEvent } from './event-bus';
import { nextForward, nextUndo, readFacts, SagaFacts } from './facts';
import { SAGA_STEPS, undoableBefore } from './steps';
import { FINAL_STATUSES, SagaMode, SagaStatus, StepKind, StepName } from './types';
import { FINISH_COMPENSATION } from './statements';

/** Failures a test or a drill injects, per saga: at a forward step, or at the undo of a step. */
export interface Injections {
  forward?: StepName;
  undo?: StepName;
}

/** Where a saga stands when a driver lets go of it: settled, or left to its holder or to recovery. */
export interface Settled {
  status: SagaStatus;
  errorCode: string | null;
}

/** How many times one call may go back to the records before it leaves the saga to recovery. */
const MAX_RESUMES = 6;

/**
 * The two drivers over one engine. Orchestration: this coordinator runs the next step as soon as
 * one commits, and the undos in reverse when one rejects. Choreography: no coordinator; each step
 * reacts to the previous step's event on the in-process bus (`<step>.run`, `<step>.compensate`),
 * consuming it in its own statement, which writes the next event to the outbox; a crash between
 * commit and publish loses nothing (the event waits in the outbox for `saga recover`).
 *
 * Either way, when a statement did not act on a saga (its response was lost to a dropped
 * connection, or another process holds it), the driver goes back to the saga's records and
 * carries on from what they say, or leaves the saga to its holder.
 */
export class SagaDriver {
  readonly bus = new EventBus<Settled>();
  private readonly injections = new Map<string, Injections>();

  constructor(readonly engine: Engine) {
    for (const step of SAGA_STEPS) {
      if (step.forward) this.bus.subscribe(`${step.name}.run`, (e) => this.forward(e.transactionId, 'choreography', step.name, e.id, 0));
      if (step.compensation) this.bus.subscribe(`${step.name}.compensate`, (e) => this.undo(e.transactionId, 'choreography', step.name, e.id, 0));
    }
  }

  /**
   * Starts a new saga and drives it to its end (or as far as this process may); undefined when the
   * id existed already (then nothing was done).
   */
  async purchase(id: string, req: { mode: SagaMode; userId: string; itemId: string; quantity: number }, inject: Injections = {}): Promise<Settled | undefined> {
    return this.withInjections(id, inject, async () => {
      const r = await this.engine.start({ id, mode: req.mode, userId: req.userId, itemId: req.itemId, quantity: req.quantity,
        inject: inject.forward === 'validate_user' });
      if (!r.acted) return undefined;
      return this.next(id, req.mode, r, 'validate_user', 'forward', 0);
    });
  }

  /** Carries a saga on from its records: the next step, the next undo, or its waiting outbox event. */
  async resume(id: string, inject: Injections = {}): Promise<Settled> {
    return this.withInjections(id, inject, () => this.fromRecords(id, 0));
  }

  /** Redelivers a choreography saga's oldest waiting event; undefined when none waits. */
  async redeliver(f: Pick<SagaFacts, 'transactionId' | 'pendingEvents'>): Promise<Settled | undefined> {
    const event = f.pendingEvents[0];
    if (!event) return undefined;
    return this.publish({ id: event.id, type: event.type, transactionId: f.transactionId });
  }

  private async forward(id: string, mode: SagaMode, step: StepName, eventId: string | null, depth: number): Promise<Settled> {
    const r = await this.engine.forward(step, { id, mode, inject: this.injections.get(id)?.forward === step, eventId });
    return this.next(id, mode, r, step, 'forward', depth);
  }

  private async undo(id: string, mode: SagaMode, step: StepName, eventId: string | null, depth: number): Promise<Settled> {
    const r = await this.engine.compensate(step, { id, mode, inject: this.injections.get(id)?.undo === step, eventId });
    return this.next(id, mode, r, step, 'compensation', depth);
  }

  /** What follows a statement's result for one saga, in either mode. */
  private async next(id: string, mode: SagaMode, r: StepResult, step: StepName, kind: StepKind, depth: number): Promise<Settled> {
    if (!r.acted) return this.fromRecords(id, depth + 1);
    if ((FINAL_STATUSES as readonly string[]).includes(r.status)) return { status: r.status, errorCode: r.sagaError };
    if (mode === 'choreography') {
      if (!r.eventId || !r.eventType) return this.fromRecords(id, depth + 1);
      return this.publish({ id: r.eventId, type: r.eventType, transactionId: id });
    }
    if (r.status === 'in_progress') {
      const after = SAGA_STEPS[SAGA_STEPS.findIndex((s) => s.name === step) + 1];
      return after ? this.forward(id, mode, after.name, null, depth) : this.fromRecords(id, depth + 1);
    }
    const undo = kind === 'compensation' ? r.nextUndo : undoableBefore(step)[0];
    return undo ? this.undo(id, mode, undo, null, depth) : this.fromRecords(id, depth + 1);
  }

  private async fromRecords(id: string, depth: number): Promise<Settled> {
    const f = await readFacts(this.engine.deps.db, id);
    if (!f) throw new Error(`saga ${id} vanished`);
    const inFlight = f.status === 'in_progress' || f.status === 'compensating';
    const mine = f.leaseOwner === null || f.leaseOwner === this.engine.deps.owner || f.leaseExpired;
    if (!inFlight || !mine || depth > MAX_RESUMES) return { status: f.status, errorCode: f.errorCode };
    if (f.mode === 'choreography') {
      const delivered = await this.redeliver(f);
      if (delivered !== undefined) return delivered;
    }
    if (f.status === 'in_progress') {
      const step = nextForward(f);
      return step ? this.forward(id, f.mode, step, null, depth) : { status: f.status, errorCode: f.errorCode };
    }
    const undo = nextUndo(f);
    if (undo) return this.undo(id, f.mode, undo, null, depth);
    // Compensating with nothing left to undo (a saga claimed before any step committed): it is done.
    await this.engine.deps.db.query(FINISH_COMPENSATION, [id, this.engine.deps.owner]);
    const after = (await readFacts(this.engine.deps.db, id))!;
    return { status: after.status, errorCode: after.errorCode };
  }

  private async publish(event: SagaEvent): Promise<Settled> {
    const status = await this.bus.publish(event);
    if (status === undefined) throw new Error(`no handler for ${event.type}`);
    return status;
  }

  private async withInjections<T>(id: string, inject: Injections, fn: () => Promise<T>): Promise<T> {
    if (inject.forward === undefined && inject.undo === undefined) return fn();
    this.injections.set(id, inject);
    try {
      return await fn();
    } finally {
      this.injections.delete(id);
    }
  }
}
