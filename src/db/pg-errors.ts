import { AppError, EXIT, ExitCode } from '../errors';

/** PostgreSQL SQLSTATE codes the tool reacts to. */
export const PG = {
  uniqueViolation: '23505',
  checkViolation: '23514',
  foreignKeyViolation: '23503',
  notNullViolation: '23502',
  lockNotAvailable: '55P03',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  invalidPassword: '28P01',
  invalidAuthorization: '28000',
  unknownDatabase: '3D000',
  undefinedTable: '42P01',
  duplicateTable: '42P07',
  duplicateObject: '42710',
  insufficientPrivilege: '42501',
  queryCanceled: '57014',
  adminShutdown: '57P01',
  crashShutdown: '57P02',
  cannotConnectNow: '57P03',
  tooManyConnections: '53300',
  readOnlyTransaction: '25006',
} as const;

export function pgCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as { code?: string }).code : undefined;
}

/** Socket-level failures node-postgres reports without an SQLSTATE. */
const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** True when the connection itself failed: the work may not have reached the server, or was cut. */
export function isConnectionError(err: unknown): boolean {
  const code = pgCode(err);
  if (code !== undefined && (code.startsWith('08') || code === PG.adminShutdown || code === PG.crashShutdown
    || code === PG.cannotConnectNow || code === PG.tooManyConnections || CONNECTION_ERRNOS.has(code))) return true;
  const message = err instanceof Error ? err.message : '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message);
}

/**
 * A database error as the typed error its exit code documents (README, "Exit codes"), or
 * undefined for an error that can only be a bug. One table for every command.
 */
export function databaseError(err: unknown): AppError | undefined {
  const code = pgCode(err);
  const message = err instanceof Error ? err.message : String(err);
  const as = (exit: ExitCode, text: string, hint?: string) => new AppError(text, exit, hint);
  if (isConnectionError(err)) {
    return as(EXIT.unreachable, `The database connection failed: ${message}.`, 'Is the server up and accepting connections? The work can be resumed: see `sagactl saga stuck`.');
  }
  switch (code) {
    case PG.lockNotAvailable:
      return as(EXIT.unreachable, `Timed out waiting for a lock: ${message}.`, 'Another session holds the row or table; see `sagactl db health` for who, or raise --lock-timeout.');
    case PG.queryCanceled:
      return as(EXIT.unreachable, `A statement was cancelled: ${message}.`, 'It ran past --statement-timeout, or was cancelled by an operator.');
    case PG.insufficientPrivilege:
      return as(EXIT.unreachable, `Permission denied: ${message}.`, 'Run it as a role with that privilege (docs/roles.md lists the grants each command needs).');
    case PG.invalidPassword:
    case PG.invalidAuthorization:
      return as(EXIT.unreachable, `Authentication failed: ${message}.`, 'Check the user name and password.');
    case PG.readOnlyTransaction:
      return as(EXIT.unreachable, `The server is read-only: ${message}.`, 'This command writes; run it against the primary.');
    case PG.undefinedTable:
      return as(EXIT.notFound, `${message}: the schema is missing or behind.`, 'Run `sagactl migrate up` first.');
    case PG.duplicateTable:
    case PG.duplicateObject:
      return as(EXIT.notFound, `${message}: the schema already has it.`, 'The schema was built by another tool: adopt it with `sagactl migrate baseline`, then `sagactl migrate status`.');
    default:
      return undefined;
  }
}
