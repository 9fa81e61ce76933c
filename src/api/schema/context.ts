import { randomUUID } from 'node:crypto';
import DataLoader from 'dataloader';
import { GraphQLError } from 'graphql';
import { AUTH_MESSAGES, type AuthResult, authenticateApiKey, type Viewer } from '../../features/auth/api-keys.js';
import { bearerToken } from '../../features/auth/bearer-token.js';
import { countSegments } from '../../features/segments/service.js';

export interface Loaders {
  /** Live audience counts of segments, batched into one scan per request. */
  segmentCount: DataLoader<{ id: string; rules: unknown }, number, string>;
}

export interface Context {
  requestId: string;
  /** Present on every executed operation: the server refuses unauthenticated ones before execution. */
  viewer: Viewer;
  loaders: Loaders;
}

function loadersFor(viewer: Viewer): Loaders {
  return {
    segmentCount: new DataLoader(
      async (segments) => {
        const counts = await countSegments(viewer.tenantId, [...segments]);
        return segments.map((s) => counts.get(s.id) ?? 0);
      },
      { cacheKeyFn: (s) => s.id },
    ),
  };
}

/**
 * Builds the context, or refuses the operation with UNAUTHENTICATED (HTTP 401). `checked`: what
 * authenticating this same request's key already found (the response cache checks it first).
 */
export async function contextFor(authorization: string | null | undefined, requestId: string = randomUUID(), checked?: AuthResult): Promise<Context> {
  const result = checked ?? (await authenticateApiKey(bearerToken(authorization)));
  if (!result.ok) {
    throw new GraphQLError(AUTH_MESSAGES[result.reason], {
      extensions: { code: 'UNAUTHENTICATED', reason: result.reason.toUpperCase(), http: { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } } },
    });
  }
  return { requestId, viewer: result.viewer, loaders: loadersFor(result.viewer) };
}
