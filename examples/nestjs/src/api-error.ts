import { HttpStatus } from '@nestjs/common';

/** A refusal the service decides itself: an HTTP status and a stable code clients can branch on. */
export class ApiError extends Error {
  constructor(readonly status: HttpStatus, readonly code: string, message: string) {
    super(message);
    this.name = 'ApiError';
  }

  static badRequest(message: string): ApiError {
    return new ApiError(HttpStatus.BAD_REQUEST, 'INVALID_REQUEST', message);
  }
}
