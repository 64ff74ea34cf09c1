import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { ENTITIES } from './entities';

/** TypeORM over the same database, for entity reads and the schema drift check. Never synchronize. */
export function createDataSource(url: string, applicationName: string): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    applicationName,
    entities: ENTITIES,
    synchronize: false,
    migrationsRun: false,
    extra: { max: 2, connectionTimeoutMillis: 5000 },
  });
}
