import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { AppError, NotFoundError, StateError, UnreachableError, UsageError } from 'sagactl';
import { ApiError } from './api-error';

interface HttpResponse {
  status(code: number): { json(body: unknown): void };
}

interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
}

/**
 * One place turns every error into HTTP, as sagactl's main turns them into exit codes:
 * the library's UsageError (exit 2) is 400, NotFoundError 404, StateError 409, an unreachable
 * database 503; anything unexpected is 500 and logged. Every body carries a code.
 */
@Catch()
export class HttpErrorsFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpErrors');

  catch(err: unknown, host: ArgumentsHost): void {
    const body = this.toBody(err);
    host.switchToHttp().getResponse<HttpResponse>().status(body.statusCode).json(body);
  }

  private toBody(err: unknown): ErrorBody {
    if (err instanceof ApiError) return { statusCode: err.status, code: err.code, message: err.message };
    if (err instanceof UsageError) return { statusCode: HttpStatus.BAD_REQUEST, code: 'INVALID_REQUEST', message: err.message };
    if (err instanceof NotFoundError) return { statusCode: HttpStatus.NOT_FOUND, code: 'NOT_FOUND', message: err.message };
    if (err instanceof StateError) return { statusCode: HttpStatus.CONFLICT, code: 'STATE_CONFLICT', message: err.message };
    if (err instanceof UnreachableError) {
      return { statusCode: HttpStatus.SERVICE_UNAVAILABLE, code: 'DATABASE_UNAVAILABLE', message: err.message };
    }
    if (err instanceof HttpException) return fromHttpException(err);
    this.logger.error(err instanceof Error ? err.stack ?? err.message : String(err));
    const message = err instanceof AppError ? err.message : 'Internal error';
    return { statusCode: HttpStatus.INTERNAL_SERVER_ERROR, code: 'INTERNAL', message };
  }
}

/** Nest's own refusals: an unknown route (404), a body that is not JSON (400), a body too large (413). */
function fromHttpException(err: HttpException): ErrorBody {
  const statusCode = err.getStatus();
  const code = statusCode === HttpStatus.NOT_FOUND ? 'ROUTE_NOT_FOUND'
    : statusCode === HttpStatus.BAD_REQUEST ? 'MALFORMED_BODY'
      : statusCode === HttpStatus.PAYLOAD_TOO_LARGE ? 'BODY_TOO_LARGE' : `HTTP_${statusCode}`;
  return { statusCode, code, message: err.message };
}
