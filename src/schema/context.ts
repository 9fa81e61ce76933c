import { randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';
import { AUTH_MESSAGES, authenticateApiKey, type Viewer } from '../auth/api-keys.js';

export interface Context {
  requestId: string;
  /** Present on every executed operation: the server refuses unauthenticated ones before execution. */
  viewer: Viewer;
}

export function bearerToken(header: string | null | undefined): string | null {
  if (!header) return null;
  const m = header.match(/^\s*Bearer\s+(\S+)\s*$/i);
  return m ? (m[1] as string) : header.trim() || null;
}

/** Builds the context, or refuses the operation with UNAUTHENTICATED (HTTP 401). */
export async function contextFor(authorization: string | null | undefined, requestId: string = randomUUID()): Promise<Context> {
  const result = await authenticateApiKey(bearerToken(authorization));
  if (!result.ok) {
    throw new GraphQLError(AUTH_MESSAGES[result.reason], {
      extensions: { code: 'UNAUTHENTICATED', reason: result.reason.toUpperCase(), http: { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } } },
    });
  }
  return { requestId, viewer: result.viewer };
}
