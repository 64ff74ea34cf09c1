import { Controller, Get, HttpStatus, Inject, Param, Query } from '@nestjs/common';
import { NotFoundError, SagaClient, SagaListPage, SagaStats, SagaView } from 'sagactl';
import { ApiError } from './api-error';
import { SAGA_CLIENT } from './saga-client.provider';
import { parseId, parseSagaQuery } from './requests';

/** Reads: one saga (through the Redis cache the library keeps coherent), a page of sagas, the statistics. */
@Controller()
export class SagaController {
  constructor(@Inject(SAGA_CLIENT) private readonly client: SagaClient) {}

  @Get('sagas/:id')
  async get(@Param('id') id: string): Promise<SagaView> {
    try {
      return await this.client.getSaga(parseId(id, 'id', 100));
    } catch (err) {
      if (err instanceof NotFoundError) throw new ApiError(HttpStatus.NOT_FOUND, 'SAGA_NOT_FOUND', err.message);
      throw err;
    }
  }

  /** Newest first; `nextCursor` of a page is the `cursor` of the next one. */
  @Get('sagas')
  list(@Query() query: Record<string, unknown>): Promise<SagaListPage> {
    const q = parseSagaQuery(query);
    return this.client.listSagas({ status: q.status, userId: q.userId, itemId: q.itemId, mode: q.mode, limit: q.limit,
      after: q.cursor === undefined ? undefined : decodeCursor(q.cursor) });
  }

  @Get('stats')
  stats(): Promise<SagaStats> {
    return this.client.stats();
  }
}

/**
 * listSagas returns its keyset cursor encoded (base64url of [createdAt, transactionId]) but takes it
 * back decoded, and sagactl exports no decoder; this mirrors `saga list --after`'s.
 */
function decodeCursor(raw: string): { createdAt: string; transactionId: string } {
  try {
    const [createdAt, transactionId] = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (typeof createdAt === 'string' && typeof transactionId === 'string' && !Number.isNaN(Date.parse(createdAt))) {
      return { createdAt, transactionId };
    }
  } catch { /* not JSON: refused below */ }
  throw ApiError.badRequest('cursor is not a nextCursor this service returned.');
}
