import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { ENTITIES } from './entities';

/**
 * TypeORM over the same database, for entity reads and the schema drift check. Never synchronize.
 * `poolSize` is for benchmarks and tests only (the naive baseline needs the engine's pool of 10).
 */
export function createDataSource(url: string, applicationName: string, poolSize = 2): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    applicationName,
    entities: ENTITIES,
    synchronize: false,
    migrationsRun: false,
    extra: { max: poolSize, connectionTimeoutMillis: 5000 },
  });
}
