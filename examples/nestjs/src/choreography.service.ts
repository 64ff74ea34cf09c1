import { Inject, Injectable } from '@nestjs/common';
import type { SagaClient, SagaView } from 'sagactl';
import { SAGA_CLIENT } from './saga-client.provider';
import type { PurchaseRequest } from './requests';

/**
 * The design's choreography: each step reacts to the previous step's event, events written to the
 * outbox in the step's own transaction (the engine's choreography driver), so a crash loses none.
 */
@Injectable()
export class ChoreographyService {
  constructor(@Inject(SAGA_CLIENT) private readonly client: SagaClient) {}

  execute(req: PurchaseRequest): Promise<SagaView> {
    return this.client.purchase({ userId: req.userId, itemId: req.itemId, quantity: req.quantity, id: req.id, mode: 'choreography' });
  }
}
