import { Controller, Get, HttpStatus, Inject } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ApiError } from './api-error';
import { APP_CONFIG, AppConfig } from './config';

/** Liveness and readiness in one: 200 when the database answers, 503 when it does not. */
@Controller('health')
export class HealthController {
  constructor(private readonly dataSource: DataSource, @Inject(APP_CONFIG) private readonly config: AppConfig) {}

  @Get()
  async health(): Promise<{ status: string; instance: string; pid: number; database: string; uptimeSeconds: number }> {
    try {
      await this.dataSource.query('SELECT 1');
    } catch (err) {
      throw new ApiError(HttpStatus.SERVICE_UNAVAILABLE, 'DATABASE_UNAVAILABLE', (err as Error).message);
    }
    return { status: 'ok', instance: this.config.instance, pid: process.pid, database: 'up', uptimeSeconds: Math.round(process.uptime()) };
  }
}
