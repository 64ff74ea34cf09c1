import { AUDIT_ACTIONS, AUDIT_OUTCOMES, ERROR_MESSAGES, LEDGER_SOURCES, EVENT_TYPES, MODES as SAGA_MODES, SAGA_STATUS, STEP_KIND, STEP_STATUS, STEPS } from '../../saga/types';

/** The vocabularies the entities' CHECK constraints name: the `as const` objects of src/saga/types.ts. */
export const STATUSES = Object.values(SAGA_STATUS);
export const MODES = [...SAGA_MODES];
export const ERROR_CODES = Object.keys(ERROR_MESSAGES);
export const STEP_NAMES = [...STEPS];
export const STEP_KINDS = Object.values(STEP_KIND);
export const STEP_STATUSES = Object.values(STEP_STATUS);
export const EVENT_TYPES_LIST = [...EVENT_TYPES];
export const AUDIT_ACTIONS_LIST = [...AUDIT_ACTIONS];
export const AUDIT_OUTCOMES_LIST = [...AUDIT_OUTCOMES];
export const LEDGER_SOURCES_LIST = [...LEDGER_SOURCES];

export const list = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ');
