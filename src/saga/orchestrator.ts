import { EngineDeps, markCompensationFailed, runCompensation, runForward, startSaga } from './engine';
import { SAGA_STEPS, StepDefinition } from './steps';
import { ERROR_MESSAGES, PurchaseRequest, SagaStatus, StepName } from './types';

/**
 * Orchestration: one coordinator drives the steps in order and, when one rejects, undoes the
 * committed ones in reverse. Every decision it takes is also written in the saga's rows, so a
 * crash at any point leaves a saga that `saga recover` can finish from the database alone.
 */
export async function orchestrate(deps: EngineDeps, id: string, req: PurchaseRequest): Promise<SagaStatus> {
  const inject = (step: StepName) => req.failAt === step;
  const start = await startSaga(deps, id, 'orchestration', req, inject('validate_user'), false);
  if (start.code) return 'failed';
  const committed: StepDefinition[] = [SAGA_STEPS[0]];
  for (const step of SAGA_STEPS.slice(1)) {
    const r = await runForward(deps, step, id, 'orchestration', inject(step.name), null, false);
    if (r.owned === 0 || r.duplicate) return 'in_progress'; // someone else is driving it now
    if (r.code && !step.neverCompensates) return compensate(deps, id, committed, 'orchestration');
    committed.push(step);
  }
  return 'completed';
}

/** Undoes `committed` in reverse; the last undo ends the saga compensated. */
export async function compensate(
  deps: EngineDeps, id: string, committed: StepDefinition[], mode: 'orchestration', injectAt?: StepName,
): Promise<SagaStatus> {
  const undoable = committed.filter((s) => s.compensation).reverse();
  for (const [i, step] of undoable.entries()) {
    const last = i === undoable.length - 1;
    const r = await runCompensation(deps, step, id, mode, injectAt === step.name, null, false, last);
    if (r.owned === 0 || r.duplicate) return 'compensating';
    if (!r.done && r.committed) {
      await markCompensationFailed(deps, id, `${ERROR_MESSAGES.COMPENSATION_FAILED}: ${step.name}`);
      return 'compensation_failed';
    }
  }
  return 'compensated';
}
