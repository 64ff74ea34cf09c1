import os from 'node:os';
import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { createSagaClient, RecoveryLoop, SagaClient } from 'sagactl';
import { APP_CONFIG, AppConfig } from './config';

export const SAGA_CLIENT = Symbol('SAGA_CLIENT');

/** sagactl's engine on the application's own TypeORM DataSource: one client per process. */
export const sagaClientProvider = {
  provide: SAGA_CLIENT,
  inject: [DataSource, APP_CONFIG],
  useFactory: (dataSource: DataSource, config: AppConfig): SagaClient => {
    const logger = new Logger('SagaClient');
    return createSagaClient({
      dataSource,
      redisUrl: config.redisUrl,
      leaseMs: config.leaseMs,
      actor: { user: `purchase-service/${config.instance}`, host: os.hostname() },
      onWarning: (message) => logger.warn(message),
    });
  },
};

/**
 * Every instance runs the library's recovery loop: when an instance dies, the others finish or
 * undo its sagas (PostgreSQL leases, SKIP LOCKED; no coordinator but the database). On shutdown the
 * loop stops first (it must not take sagas this instance is about to abandon); the client (its
 * Redis connection) closes once the HTTP server has stopped taking requests.
 */
@Injectable()
export class SagaLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('Recovery');
  private loop?: RecoveryLoop;

  constructor(
    @Inject(SAGA_CLIENT) private readonly client: SagaClient,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.loop = this.client.startRecovery({
      everyMs: this.config.recoveryEveryMs,
      olderThanMs: this.config.recoveryOlderThanMs,
      reason: `recovery loop of ${this.config.instance}`,
    });
    this.logger.log(`recovery loop every ${this.config.recoveryEveryMs} ms (sagas unmoved ${this.config.recoveryOlderThanMs} ms, or of a dead process on this host)`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.loop?.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
  }
}
