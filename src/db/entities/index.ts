import { User } from './user';
import { Item } from './item';
import { SagaState } from './saga-state';
import { SagaStepResult } from './saga-step-result';
import { TransactionLog } from './transaction-log';
import { Notification } from './notification';
import { SagaEvent } from './saga-event';
import { OperatorAudit } from './operator-audit';

export { User, Item, SagaState, SagaStepResult, TransactionLog, Notification, SagaEvent, OperatorAudit };
export const ENTITIES = [User, Item, SagaState, SagaStepResult, TransactionLog, Notification, SagaEvent, OperatorAudit];
