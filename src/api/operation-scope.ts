import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What the access log learns about a GraphQL operation while it runs, from places that see no
 * context: the typed errors the errors plugin turns into results (ValidationError → VALIDATION).
 */
export interface OperationScope {
  typedErrors: string[];
}

const scope = new AsyncLocalStorage<OperationScope>();

export function runInOperationScope<T>(state: OperationScope, fn: () => T): T {
  return scope.run(state, fn);
}

/** The code of an application error as clients see it: NotFoundError → NOT_FOUND. */
export function errorCode(error: Error): string {
  return error.name
    .replace(/Error$/, '')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toUpperCase();
}

/** Called by the errors plugin for every error it returns as a typed result. */
export function noteTypedError(error: Error): void {
  const s = scope.getStore();
  if (s && s.typedErrors.length < 20) s.typedErrors.push(errorCode(error));
}
