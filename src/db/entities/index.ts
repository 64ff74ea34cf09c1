import 'reflect-metadata';
import { User } from './user';
import { Item } from './item';
import { SagaState } from './saga-state';
import { SagaStepResult } from './saga-step-result';
import { TransactionLog } from './transaction-log';
import { Notification } from './notification';
import { SagaEvent } from './saga-event';
import { OperatorAudit } from './operator-audit';
import { LedgerEntry } from './ledger-entry';
import { SagaStatsDirty, SagaStatsLatency, SagaStatsPruned, SagaStatsPrunedLatency, SagaStatsRollup, SagaStatsState } from './stats';

export { User, Item, SagaState, SagaStepResult, TransactionLog, Notification, SagaEvent, OperatorAudit, LedgerEntry };
export { SagaStatsRollup, SagaStatsLatency, SagaStatsDirty, SagaStatsState, SagaStatsPruned, SagaStatsPrunedLatency };

/** Every table sagactl's migrations create, exact to the column (the runner's own history table aside). */
export const ENTITIES = [User, Item, SagaState, SagaStepResult, TransactionLog, Notification, SagaEvent, OperatorAudit, LedgerEntry,
  SagaStatsRollup, SagaStatsLatency, SagaStatsDirty, SagaStatsState, SagaStatsPruned, SagaStatsPrunedLatency];
