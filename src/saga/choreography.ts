import { EngineDeps, markCompensationFailed, runCompensation, runForward, startSaga } from './engine';
import { EventBus, SagaEvent } from './event-bus';
import { SAGA_STEPS } from './steps';
import { ERROR_MESSAGES, PurchaseRequest, SagaStatus, StepName } from './types';

/**
 * Choreography: no coordinator. Each step's service listens for its trigger on the bus
 * (`<step>.run`, `<step>.compensate`), does its work in one statement that also marks the
 * trigger delivered and writes the next event to the outbox (saga_events), then publishes it.
 * A crash between commit and publish loses nothing: the event waits in the outbox for
 * `saga recover` to deliver it again.
 */
export class Choreography {
  readonly bus = new EventBus<SagaStatus>();
  /** Failures injected for sagas started by this process (tests and --fail-at). */
  private readonly injections = new Map<string, StepName>();

  constructor(private readonly deps: EngineDeps) {
    for (const step of SAGA_STEPS.slice(1)) {
      this.bus.subscribe(`${step.name}.run`, async (event) => {
        const r = await runForward(deps, step, event.transactionId, 'choreography', this.injected(event, step.name), event.id, true);
        if (r.owned === 0 || r.duplicate) return 'in_progress';
        if (!r.eventId) return r.code && !step.neverCompensates ? 'compensated' : 'completed';
        return this.next(event, r.eventId, r.eventType!);
      });
    }
    for (const [index, step] of SAGA_STEPS.entries()) {
      if (!step.compensation) continue;
      this.bus.subscribe(`${step.name}.compensate`, async (event) => {
        const last = index === 0;
        const r = await runCompensation(deps, step, event.transactionId, 'choreography', false, event.id, true, last);
        if (r.owned === 0 || r.duplicate) return 'compensating';
        if (!r.done && r.committed) {
          await markCompensationFailed(deps, event.transactionId, `${ERROR_MESSAGES.COMPENSATION_FAILED}: ${step.name}`);
          return 'compensation_failed';
        }
        return r.eventId ? this.next(event, r.eventId, r.eventType!) : 'compensated';
      });
    }
  }

  async run(id: string, req: PurchaseRequest): Promise<SagaStatus> {
    if (req.failAt) this.injections.set(id, req.failAt);
    try {
      const start = await startSaga(this.deps, id, 'choreography', req, req.failAt === 'validate_user', true);
      if (start.code) return 'failed';
      return (await this.bus.publish({ id: start.eventId!, type: start.eventType!, transactionId: id })) ?? 'in_progress';
    } finally {
      this.injections.delete(id);
    }
  }

  private injected(event: SagaEvent, step: StepName): boolean {
    return this.injections.get(event.transactionId) === step;
  }

  private async next(event: SagaEvent, id: string, type: string): Promise<SagaStatus> {
    return (await this.bus.publish({ id, type, transactionId: event.transactionId })) ?? 'in_progress';
  }
}
