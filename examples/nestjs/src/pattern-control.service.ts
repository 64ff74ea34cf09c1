import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { SagaMode, SagaState, SagaView } from 'sagactl';
import { ApiError } from './api-error';
import { APP_CONFIG, AppConfig } from './config';
import { ChoreographyService } from './choreography.service';
import { OrchestrationService } from './orchestration.service';
import type { PurchaseRequest } from './requests';

/**
 * The design's pattern control: it picks a saga's mode (the request's, else the configured
 * default) and fixes it for life. A retry of an existing saga (same id) goes to the mode that saga
 * was started in; asking for the other mode is a conflict, refused before anything runs.
 */
@Injectable()
export class PatternControlService {
  constructor(
    private readonly orchestration: OrchestrationService,
    private readonly choreography: ChoreographyService,
    @InjectRepository(SagaState) private readonly sagas: Repository<SagaState>,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async execute(req: PurchaseRequest): Promise<SagaView> {
    const mode = await this.modeFor(req);
    return mode === 'choreography' ? this.choreography.execute(req) : this.orchestration.execute(req);
  }

  private async modeFor(req: PurchaseRequest): Promise<SagaMode> {
    if (req.id === undefined) return req.mode ?? this.config.defaultMode;
    const existing = await this.sagas.findOne({ select: { transactionId: true, mode: true }, where: { transactionId: req.id } });
    const fixed = existing?.mode as SagaMode | undefined;
    if (fixed !== undefined && req.mode !== undefined && req.mode !== fixed) {
      throw new ApiError(HttpStatus.CONFLICT, 'MODE_CONFLICT', `Saga ${req.id} runs in ${fixed} mode; a saga keeps its mode for life.`);
    }
    return fixed ?? req.mode ?? this.config.defaultMode;
  }
}
