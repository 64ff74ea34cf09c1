import { Inject, Injectable } from '@nestjs/common';
import type { SagaClient, SagaView } from 'sagactl';
import { SAGA_CLIENT } from './saga-client.provider';
import type { PurchaseRequest } from './requests';

/** The design's orchestrator: one coordinator drives the four steps (the engine's orchestration driver). */
@Injectable()
export class OrchestrationService {
  constructor(@Inject(SAGA_CLIENT) private readonly client: SagaClient) {}

  execute(req: PurchaseRequest): Promise<SagaView> {
    return this.client.purchase({ userId: req.userId, itemId: req.itemId, quantity: req.quantity, id: req.id, mode: 'orchestration' });
  }
}
