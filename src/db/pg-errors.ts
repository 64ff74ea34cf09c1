import { AppError, ErrorCode, EXIT, ExitCode } from '../errors';
import { tlsFailure } from './tls';

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
  idleInTransactionTimeout: '25P03',
  undefinedColumn: '42703',
  undefinedFunction: '42883',
  undefinedObject: '42704',
  invalidParameterValue: '22023',
  objectInUse: '55006',
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
 * undefined for an error that can only be a bug (a syntax error, a failed transaction used
 * again). One table for every command: each SQLSTATE class has its exit code, and the codes
 * that need their own words have an entry of their own.
 */
export function databaseError(err: unknown): AppError | undefined {
  const code = pgCode(err);
  const message = err instanceof Error ? err.message : String(err);
  const as = (exit: ExitCode, text: string, hint?: string) => new AppError(text, exit, hint);
  const tls = tlsFailure(err);
  if (tls) {
    return as(EXIT.unreachable, tls.certificate ? `TLS: the server's certificate was refused: ${tls.reason}.` : `TLS failed: ${tls.reason}.`,
      'Check sslmode and sslrootcert (README, "TLS").');
  }
  if (code === PG.tooManyConnections) {
    return as(EXIT.unreachable, `The server has no free connection: ${message}.`,
      'Lower --pool (DB_POOL_SIZE) or raise the server\'s max_connections; sagas in flight stay recoverable (`sagactl saga recover`).');
  }
  if (isConnectionError(err)) {
    return as(EXIT.unreachable, `The database connection failed: ${message}.`,
      'The server restarted, stopped or cut the connection; sagas in flight stay recoverable: `sagactl saga stuck`, then `sagactl saga recover`.');
  }
  const own = code === undefined ? undefined : BY_CODE[code]?.(message, err);
  const mapped = own ?? (code === undefined ? undefined : BY_CLASS[code.slice(0, 2)]?.(message, err));
  if (mapped && code !== undefined) mapped.code = scriptCode(code, mapped.exitCode) ?? mapped.code;
  return mapped;
}

/**
 * Which kind of exit 4 or 3 it is, for the code of the JSON error (README, "Exit codes"): a script
 * retries a timeout, fixes a secret or a role, or migrates a schema, and tells them apart by it.
 */
export function scriptCode(sqlstate: string, exitCode: number): ErrorCode | undefined {
  if (exitCode === EXIT.unreachable) {
    if (sqlstate === PG.lockNotAvailable || sqlstate === PG.queryCanceled || sqlstate === PG.idleInTransactionTimeout) return 'TIMEOUT';
    if (sqlstate === PG.insufficientPrivilege || sqlstate === PG.readOnlyTransaction || sqlstate.startsWith('25')) return 'PERMISSION';
    if (sqlstate.startsWith('28')) return 'AUTH';
  }
  // A schema missing or already there, a change a constraint forbids: states to fix, not things not found.
  if (exitCode === EXIT.notFound) return 'STATE';
  return undefined;
}

type Rule = (message: string, err: unknown) => AppError | undefined;
const rule = (exit: ExitCode, text: (m: string, err: unknown) => string, hint?: string): Rule =>
  (m, err) => new AppError(text(m, err), exit, hint);

const SETTINGS_HINT = 'A session setting was refused: check PGOPTIONS, options= in the URL, --lock-timeout and --statement-timeout.';
const SCHEMA_HINT = 'Run `sagactl migrate up` first (`sagactl migrate status` shows what is missing).';

/** SQLSTATE codes with words of their own. */
const BY_CODE: Record<string, Rule> = {
  [PG.lockNotAvailable]: rule(EXIT.unreachable, (m) => `Timed out waiting for a lock: ${m}.`,
    'Another session holds the row or table: end it, wait, or raise --lock-timeout (DB_LOCK_TIMEOUT); `sagactl db health` shows lock waits.'),
  [PG.objectInUse]: rule(EXIT.unreachable, (m) => `The object is in use by another session: ${m}.`, 'Wait for it to finish, then run the command again.'),
  [PG.queryCanceled]: (m) => /statement timeout/i.test(m)
    ? new AppError(`A statement ran past the statement timeout and was cancelled: ${m}.`, EXIT.unreachable,
      'Raise --statement-timeout (DB_STATEMENT_TIMEOUT), or 0 for none.')
    : new AppError(`A statement was cancelled on the server: ${m}.`, EXIT.unreachable,
      'Someone ran pg_cancel_backend on it, or the server is shutting down; the command can be run again.'),
  [PG.insufficientPrivilege]: rule(EXIT.unreachable, (m) => `Permission denied: ${m}.`,
    'Run it as a role with the grants docs/roles.md lists for this command.'),
  [PG.readOnlyTransaction]: rule(EXIT.unreachable, (m) => `The server is read-only: ${m}.`, 'This command writes; run it against the primary.'),
  [PG.idleInTransactionTimeout]: rule(EXIT.unreachable, (m) => `The server ended the session: ${m}.`, 'The command can be run again.'),
  [PG.invalidParameterValue]: rule(EXIT.usage, (m) => `The server refused a setting: ${m}.`, SETTINGS_HINT),
  [PG.undefinedObject]: (m) => /configuration parameter/i.test(m)
    ? new AppError(`The server refused a setting: ${m}.`, EXIT.usage, SETTINGS_HINT)
    : new AppError(`${m}: the schema is missing or behind.`, EXIT.notFound, SCHEMA_HINT),
  [PG.duplicateTable]: rule(EXIT.notFound, (m) => `${m}: the schema already has it.`,
    'The schema was built by another tool: adopt it with `sagactl migrate baseline`, then `sagactl migrate status`.'),
  [PG.serializationFailure]: rule(EXIT.unreachable, (m) => `Gave up after retries: ${m}.`, 'Other sessions kept changing the same rows; run the command again.'),
  [PG.deadlockDetected]: rule(EXIT.unreachable, (m) => `Gave up after retries: ${m}.`, 'Other sessions kept locking the same rows in another order; run the command again.'),
};
BY_CODE[PG.duplicateObject] = BY_CODE[PG.duplicateTable];

/** Every other SQLSTATE by its class (the first two characters); classes absent here are bugs. */
const BY_CLASS: Record<string, Rule> = {
  // Data exceptions: a value the server cannot take (an amount out of range, bad text for a type).
  '22': rule(EXIT.usage, (m) => `The database refused a value: ${m}.`, 'Check the values given to the command.'),
  // Integrity: a change the schema's constraints forbid is an illegal state change, refused whole.
  '23': rule(EXIT.notFound, (m, err) => `The database refused the change (${(err as { constraint?: string }).constraint ?? 'a constraint'}): ${m}.`,
    'Nothing was changed; see `sagactl db check`.'),
  '25': (m) => (/read-only/i.test(m) ? BY_CODE[PG.readOnlyTransaction](m, undefined) : undefined),
  '28': rule(EXIT.unreachable, (m) => `Authentication failed: ${m}.`, 'Check the user name and password.'),
  '3D': rule(EXIT.unreachable, (m) => `${m}.`, 'Check the database name (`createdb NAME` creates it).'),
  '3F': rule(EXIT.notFound, (m) => `${m}: the schema is missing or behind.`, SCHEMA_HINT),
  '40': rule(EXIT.unreachable, (m) => `The transaction was rolled back: ${m}.`, 'Run the command again.'),
  '42': (m, err) => {
    const code = pgCode(err);
    if (code === PG.undefinedTable || code === PG.undefinedColumn || code === PG.undefinedFunction) {
      return new AppError(`${m}: the schema is missing or behind.`, EXIT.notFound, SCHEMA_HINT);
    }
    return undefined; // a syntax error or a wrong type is ours to fix
  },
  '53': rule(EXIT.unreachable, (m) => `The server is out of resources: ${m}.`, 'Free disk or memory on the server, then run the command again.'),
  '57': rule(EXIT.unreachable, (m) => `The server stopped the session: ${m}.`, 'The server is shutting down or restarting; run the command again once it is up.'),
  '58': rule(EXIT.unreachable, (m) => `The server failed: ${m}.`, 'See the server\'s log.'),
  'F0': rule(EXIT.unreachable, (m) => `The server's configuration is broken: ${m}.`, 'See the server\'s log.'),
  'XX': rule(EXIT.unreachable, (m) => `The server failed: ${m}.`, 'See the server\'s log.'),
};
