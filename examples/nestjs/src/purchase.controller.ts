import { Body, Controller, HttpStatus, Post, Res } from '@nestjs/common';
import type { SagaView } from 'sagactl';
import { PurchaseService } from './purchase.service';
import { parsePurchase } from './requests';

/**
 * The saga's final status decides the HTTP status, as it decides `saga run`'s exit code:
 * completed 201; failed or compensated (the purchase was refused and every effect undone) 422,
 * with the saga and its error code; compensation_failed (an operator's case) 500; still in flight
 * (the recovery loop will finish it) 202. The body is always the saga as `saga run --json` prints it.
 */
const HTTP_STATUS: Record<string, HttpStatus> = {
  completed: HttpStatus.CREATED,
  failed: HttpStatus.UNPROCESSABLE_ENTITY,
  compensated: HttpStatus.UNPROCESSABLE_ENTITY,
  compensation_failed: HttpStatus.INTERNAL_SERVER_ERROR,
};

interface HttpResponse {
  status(code: number): unknown;
}

@Controller('purchases')
export class PurchaseController {
  constructor(private readonly purchases: PurchaseService) {}

  @Post()
  async create(@Body() body: unknown, @Res({ passthrough: true }) res: HttpResponse): Promise<SagaView> {
    const saga = await this.purchases.purchase(parsePurchase(body));
    res.status(HTTP_STATUS[saga.status] ?? HttpStatus.ACCEPTED);
    return saga;
  }
}
