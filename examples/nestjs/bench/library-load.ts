import { createSagaClient, SagaMode } from 'sagactl';
import { generatedPurchase, measure, summarize } from './measure';

/**
 * The same purchases through sagactl's library in-process (`client.purchase()`, the call the
 * service makes, readback included), on a pool the size of the service's: the HTTP row's baseline.
 */
export async function runLibraryLoad(opts: { databaseUrl: string; count: number; warmup?: number; concurrency: number; mode: SagaMode; poolSize?: number }) {
  const client = createSagaClient({ connectionString: opts.databaseUrl, poolSize: opts.poolSize ?? 10, applicationName: 'http-load library' });
  try {
    const load = (count: number) => measure(count, opts.concurrency, (i) =>
      client.purchase(generatedPurchase(i, opts.mode) as { userId: string; itemId: string; quantity: number; mode: SagaMode })
        .then((saga) => saga.status, () => 'error'));
    if (opts.warmup) await load(opts.warmup);
    const { replies, ms, wallSeconds } = await load(opts.count);
    return { count: opts.count, concurrency: opts.concurrency, ...summarize(replies, ms, wallSeconds, 'completed') };
  } finally {
    await client.close();
  }
}
