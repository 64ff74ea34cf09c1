/**
 * The design's service layer (original-design.md, sections 1.2, 2.1 and 2.2) as it writes it: its
 * data-source config, SagaRepository and UserService. Only NestJS's dependency injection is
 * replaced by constructor arguments, and the data source follows product.md (sagactl owns the
 * schema: migrationsRun false, synchronize false). The logic, the separate transactions and the
 * SQL built from numbers are the design's: this is the program sagactl must administer safely.
 */
import { DataSource, Repository } from 'typeorm';
import { SagaState, SagaStepResult, User } from './entities';

export function designDataSource(url: string): DataSource {
  const u = new URL(url);
  return new DataSource({
    type: 'postgres',
    host: u.hostname,
    port: Number(u.port || 5432),
    username: decodeURIComponent(u.username) || 'postgres',
    password: decodeURIComponent(u.password),
    database: u.pathname.slice(1),
    entities: [User, SagaState, SagaStepResult],
    synchronize: false,
    logging: false,
    migrationsRun: false,
  });
}

export class SagaRepository {
  private readonly sagaStateRepository: Repository<SagaState>;
  private readonly stepResultRepository: Repository<SagaStepResult>;

  constructor(dataSource: DataSource) {
    this.sagaStateRepository = dataSource.getRepository(SagaState);
    this.stepResultRepository = dataSource.getRepository(SagaStepResult);
  }

  async save(sagaState: SagaState): Promise<SagaState> {
    return await this.sagaStateRepository.save(sagaState);
  }

  async findById(transactionId: string): Promise<SagaState | null> {
    return await this.sagaStateRepository.findOne({ where: { transactionId } });
  }

  async findWithSteps(transactionId: string): Promise<SagaState | null> {
    // The design writes relations: ['steps']; TypeORM 1.x removed the string-array form.
    return await this.sagaStateRepository.findOne({ where: { transactionId }, relations: { steps: true } });
  }

  async findByStatus(status: string): Promise<SagaState[]> {
    return await this.sagaStateRepository.find({ where: { status } });
  }

  async updateStatus(transactionId: string, status: string): Promise<void> {
    await this.sagaStateRepository.update(
      { transactionId },
      { status, updatedAt: new Date(), ...(status === 'completed' && { completedAt: new Date() }) },
    );
  }

  async addStepResult(transactionId: string, stepResult: SagaStepResult): Promise<void> {
    stepResult.transactionId = transactionId;
    await this.stepResultRepository.save(stepResult);
  }
}

export interface UserValidationDto { userId: string; transactionId: string; requiredBalance: number }
export interface UserValidationResult { isValid: boolean; userId: string; currentBalance?: number; reason?: string; errorCode?: string }

export class UserService {
  private readonly userRepository: Repository<User>;

  constructor(dataSource: DataSource, private readonly logger = { log: (_m: string) => undefined, error: (_m: string) => undefined }) {
    this.userRepository = dataSource.getRepository(User);
  }

  async validateUser(dto: UserValidationDto): Promise<UserValidationResult> {
    const queryRunner = this.userRepository.manager.connection.createQueryRunner();
    try {
      await queryRunner.startTransaction();
      const user = await queryRunner.manager.findOne(User, { where: { userId: dto.userId }, lock: { mode: 'pessimistic_write' } });
      if (!user) return { isValid: false, userId: dto.userId, reason: 'User not found', errorCode: 'USER_NOT_FOUND' };
      if (user.status !== 'active') return { isValid: false, userId: dto.userId, reason: 'User not active', errorCode: 'USER_NOT_ACTIVE' };
      if (user.balance < dto.requiredBalance) {
        return { isValid: false, userId: dto.userId, currentBalance: user.balance, reason: 'Insufficient balance', errorCode: 'INSUFFICIENT_BALANCE' };
      }
      await queryRunner.manager.update(User, { userId: dto.userId }, {
        balance: () => `balance - ${dto.requiredBalance}`,
        updatedAt: new Date(),
      });
      await queryRunner.commitTransaction();
      return { isValid: true, userId: dto.userId, currentBalance: user.balance - dto.requiredBalance };
    } catch (error) {
      await queryRunner.rollbackTransaction();
      this.logger.error(`User validation failed: ${(error as Error).message}`);
      throw error;
    } finally {
      // The design returns early from inside the transaction on a rejection; releasing rolls it back.
      if (queryRunner.isTransactionActive) await queryRunner.rollbackTransaction();
      await queryRunner.release();
    }
  }

  async compensateUserValidation(userId: string, amount: number, transactionId: string): Promise<boolean> {
    try {
      const result = await this.userRepository.update({ userId }, {
        balance: () => `balance + ${amount}`,
        updatedAt: new Date(),
      });
      this.logger.log(`User balance compensated: ${userId}, amount: ${amount}, transaction: ${transactionId}`);
      return (result.affected ?? 0) > 0;
    } catch (error) {
      this.logger.error(`User compensation failed: ${(error as Error).message}`);
      return false;
    }
  }
}
