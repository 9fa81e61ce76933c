import SchemaBuilder from '@pothos/core';
import ComplexityPlugin from '@pothos/plugin-complexity';
import ErrorsPlugin from '@pothos/plugin-errors';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import ValidationPlugin from '@pothos/plugin-validation';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import { config } from '../../infra/config/index.js';
import { prisma } from '../../infra/db/client.js';
import { ForbiddenError, ValidationError } from '../../domain/errors.js';
import type PrismaTypes from '../../generated/pothos-types.js';
import { getDatamodel } from '../../generated/pothos-types.js';
import type { Context } from './context.js';
import InputIssuesPlugin from './input-issues.js';
import { complexityError, fieldComplexity, QUERY_LIMITS } from './limits.js';
import { noteTypedError } from '../operation-scope.js';

/**
 * The Pothos builder: plugins, scalars and root types only; domain types live in their own files.
 *
 * Plugin order matters: errors first (it wraps everything after it, so auth and input-validation
 * failures become typed results), then relay (so scope checks see decoded global ids), scope-auth
 * before the resolver-wrapping prisma plugin, then the input issues (every bad field at once, text
 * PostgreSQL cannot store included: src/api/schema/input-issues.ts), validation, and complexity.
 */
export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  AuthScopes: { reader: boolean; operator: boolean; admin: boolean };
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: false;
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
  };
}>({
  plugins: [ErrorsPlugin, RelayPlugin, ScopeAuthPlugin, PrismaPlugin, InputIssuesPlugin, ValidationPlugin, ComplexityPlugin],
  defaultFieldNullability: false,
  errors: {
    defaultTypes: [],
    unsafelyHandleInputErrors: true,
    // The access log reports these with the operation (src/api/access-log.ts).
    onResolvedError: noteTypedError,
    defaultResultOptions: { name: ({ fieldName }) => `${pascal(fieldName)}Success` },
    defaultUnionOptions: { name: ({ fieldName }) => `${pascal(fieldName)}Result` },
  },
  scopeAuth: {
    authScopes: (ctx) => ({
      reader: true,
      operator: ctx.viewer.role === 'ADMIN' || ctx.viewer.role === 'OPERATOR',
      admin: ctx.viewer.role === 'ADMIN',
    }),
    unauthorizedError: (_parent, ctx, info) =>
      new ForbiddenError(`the ${ctx.viewer.role} role may not use ${info.parentType.name}.${info.fieldName}`),
  },
  prisma: {
    client: prisma,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
    onUnusedQuery: config.env === 'production' ? null : 'error',
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    edgesFieldOptions: { nullable: false },
    nodeFieldOptions: { nullable: false },
    nodesQueryOptions: false,
  },
  validation: {
    validationError: (result) =>
      new ValidationError(
        result.issues.map((issue) => ({
          path: (issue.path ?? []).map((p) => (typeof p === 'object' ? (p.key as string | number) : (p as string | number))),
          message: issue.message,
        })),
      ),
  },
  complexity: {
    fieldComplexity,
    limit: { complexity: QUERY_LIMITS.complexity },
    complexityError: (kind, result) => complexityError(kind, result),
  },
});

function pascal(name: string) {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

builder.addScalarType('DateTime', DateTimeResolver, {});
builder.addScalarType('JSON', JSONResolver, {});

builder.queryType({ authScopes: { reader: true } });
builder.mutationType({ authScopes: { reader: true } });
builder.subscriptionType({ authScopes: { reader: true } });
