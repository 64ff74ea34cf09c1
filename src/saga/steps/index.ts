import { StepName } from '../types';
import { StepDefinition } from './phase';
import { VALIDATE_USER } from './validate-user';
import { RESERVE_INVENTORY } from './reserve-inventory';
import { LOG_TRANSACTION } from './log-transaction';
import { SEND_NOTIFICATION } from './send-notification';

export type { Phase, StepDefinition } from './phase';
export { VALIDATE_USER, RESERVE_INVENTORY, LOG_TRANSACTION, SEND_NOTIFICATION };

/** The saga, in order. Compensation runs over the committed ones in reverse. */
export const SAGA_STEPS: readonly StepDefinition[] = [VALIDATE_USER, RESERVE_INVENTORY, LOG_TRANSACTION, SEND_NOTIFICATION];

/** Steps whose effect is undone when the saga fails; the notification is not. */
export const UNDOABLE_STEPS: readonly StepName[] = SAGA_STEPS.filter((s) => s.compensation).map((s) => s.name);

export function stepNamed(name: StepName): StepDefinition {
  const step = SAGA_STEPS.find((s) => s.name === name);
  if (!step) throw new Error(`no step ${name}`);
  return step;
}

/** The undoable steps before `step`, nearest first: what a failure at `step` leaves to undo. */
export function undoableBefore(step: StepName): StepName[] {
  const index = SAGA_STEPS.findIndex((s) => s.name === step);
  return SAGA_STEPS.slice(0, index).filter((s) => s.compensation).map((s) => s.name).reverse();
}
