import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { entities, Item, SagaState, User } from 'sagactl';
import { APP_CONFIG, AppConfig } from './config';
import { ChoreographyService } from './choreography.service';
import { HealthController } from './health.controller';
import { HttpErrorsFilter } from './http-errors.filter';
import { InventoryService } from './inventory.service';
import { OrchestrationService } from './orchestration.service';
import { PatternControlService } from './pattern-control.service';
import { PurchaseController } from './purchase.controller';
import { PurchaseService } from './purchase.service';
import { sagaClientProvider, SagaLifecycle } from './saga-client.provider';
import { SagaController } from './saga.controller';
import { UserService } from './user.service';

/**
 * sagactl owns the schema: `sagactl migrate up` builds it, so TypeORM neither migrates
 * (migrationsRun: false) nor synchronises (synchronize: false, which would drop the CHECKs,
 * indexes and columns the engine relies on). The entities are the library's, exact to the column.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRoot({
          type: 'postgres',
          url: config.databaseUrl,
          entities,
          migrationsRun: false,
          synchronize: false,
          applicationName: `purchase-service ${config.instance}`,
          extra: { max: config.poolSize, connectionTimeoutMillis: 5000 },
          // A service that cannot reach its database at boot says so and exits; its supervisor restarts it.
          retryAttempts: 0,
        }),
        TypeOrmModule.forFeature([User, Item, SagaState]),
      ],
      controllers: [PurchaseController, SagaController, HealthController],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: APP_FILTER, useClass: HttpErrorsFilter },
        sagaClientProvider,
        SagaLifecycle,
        UserService,
        InventoryService,
        OrchestrationService,
        ChoreographyService,
        PatternControlService,
        PurchaseService,
      ],
    };
  }
}
