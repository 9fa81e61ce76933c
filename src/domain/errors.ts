/**
 * Failures a client must handle. Services throw these; the GraphQL layer exposes each as a typed
 * error in the mutation's result union. Anything else is a bug: masked and logged with an id.
 */
export class AppError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export interface FieldIssue {
  /** Path of the offending input field, e.g. ["input", "messages", 0, "text"]. */
  path: Array<string | number>;
  message: string;
}

export class ValidationError extends AppError {
  constructor(
    readonly issues: FieldIssue[],
    message = issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '),
  ) {
    super(message);
  }

  static field(path: Array<string | number>, message: string): ValidationError {
    return new ValidationError([{ path, message }]);
  }
}

export class NotFoundError extends AppError {
  constructor(
    readonly resource: string,
    readonly id: string,
  ) {
    super(`${resource} ${id} not found`);
  }
}

export class InvalidTransitionError extends AppError {
  constructor(
    readonly resource: string,
    readonly currentState: string,
    readonly requestedAction: string,
    readonly allowedFrom: readonly string[],
  ) {
    super(
      `cannot ${requestedAction} a ${resource} that is ${currentState}` +
        (allowedFrom.length ? `; allowed only when ${allowedFrom.join(' or ')}` : ''),
    );
  }
}

export type NotReadyReason = 'NO_VARIATION' | 'NO_USABLE_INSTANCE' | 'EMPTY_AUDIENCE';

export class CampaignNotReadyError extends AppError {
  constructor(
    readonly reason: NotReadyReason,
    message: string,
  ) {
    super(message);
  }
}

export class ForbiddenError extends AppError {}

export class ConflictError extends AppError {
  constructor(
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
  }
}
