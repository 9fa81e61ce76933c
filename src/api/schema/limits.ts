import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { type GraphQLField, GraphQLError, getNamedType, getNullableType, isListType, isObjectType } from 'graphql';

/**
 * Abuse limits on every operation, over HTTP and WebSocket alike (documented in the README):
 * - depth: nested selections (introspection excepted, so GraphiQL works);
 * - aliases and directives per operation;
 * - tokens: the size of the document, checked while parsing;
 * - complexity: an estimate of the work, where a connection costs its page size (`first`/`last`,
 *   20 by default) times its selection, and any other list 10 times its selection.
 */
export const QUERY_LIMITS = {
  depth: 12,
  aliases: 15,
  directives: 20,
  tokens: 3000,
  complexity: 20_000,
  defaultPageSize: 20,
  listMultiplier: 10,
} as const;

export function armorPlugin() {
  return EnvelopArmorPlugin({
    maxDepth: { n: QUERY_LIMITS.depth, ignoreIntrospection: true, flattenFragments: true, exposeLimits: true },
    maxAliases: { n: QUERY_LIMITS.aliases, exposeLimits: true },
    maxDirectives: { n: QUERY_LIMITS.directives, exposeLimits: true },
    maxTokens: { n: QUERY_LIMITS.tokens, exposeLimits: true },
    // Complexity is estimated by Pothos, which knows page sizes; armor's cost model does not.
    costLimit: { enabled: false },
    // Field suggestions would let a caller map the schema; the schema is public anyway (schema.graphql).
    blockFieldSuggestion: { enabled: false },
  });
}

/** Pothos complexity of one field: connections by their page size, other lists by a fixed multiplier. */
export function fieldComplexity<C>(args: Record<string, unknown>, _ctx: C, field: GraphQLField<unknown, C, Record<string, unknown>>) {
  const page = typeof args.first === 'number' ? args.first : typeof args.last === 'number' ? args.last : null;
  const type = getNullableType(field.type);
  const named = getNamedType(field.type);
  if (field.name === 'edges' && isListType(type)) return { field: 0, multiplier: 1 };
  if (isObjectType(named) && named.name.endsWith('Connection')) {
    return { field: 1, multiplier: Math.max(1, Math.min(page ?? QUERY_LIMITS.defaultPageSize, 1000)) };
  }
  return { field: 1, multiplier: isListType(type) ? QUERY_LIMITS.listMultiplier : 1 };
}

export function complexityError(errorKind: string, result: { complexity: number; depth: number; breadth: number; maxComplexity?: number; maxDepth?: number; maxBreadth?: number }) {
  const kind = errorKind.toLowerCase();
  const limit = kind === 'complexity' ? result.maxComplexity : kind === 'depth' ? result.maxDepth : result.maxBreadth;
  const value = kind === 'complexity' ? result.complexity : kind === 'depth' ? result.depth : result.breadth;
  return new GraphQLError(`query ${kind} ${value} exceeds the limit of ${limit}; ask for smaller pages or fewer fields`, {
    extensions: { code: 'QUERY_TOO_COMPLEX', kind, value, limit },
  });
}
