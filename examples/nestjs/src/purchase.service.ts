import { HttpStatus, Injectable } from '@nestjs/common';
import { SagaView, StateError } from 'sagactl';
import { ApiError } from './api-error';
import { InventoryService } from './inventory.service';
import { PatternControlService } from './pattern-control.service';
import type { PurchaseRequest } from './requests';
import { UserService } from './user.service';

/** A purchase: the gates (user and item exist), then the saga in the mode the pattern control fixes. */
@Injectable()
export class PurchaseService {
  constructor(
    private readonly users: UserService,
    private readonly inventory: InventoryService,
    private readonly patternControl: PatternControlService,
  ) {}

  async purchase(req: PurchaseRequest): Promise<SagaView> {
    await Promise.all([this.users.validateUser(req.userId), this.inventory.validateItem(req.itemId)]);
    try {
      return await this.patternControl.execute(req);
    } catch (err) {
      // The engine refuses an id reused for another purchase: the key is the client's, so is the conflict.
      if (err instanceof StateError) throw new ApiError(HttpStatus.CONFLICT, 'IDEMPOTENCY_CONFLICT', err.message);
      throw err;
    }
  }
}
