import { prisma } from '../db/client.js';
import { ApiKeyRole } from '../generated/prisma/client.js';
import { builder } from './builder.js';

export const ApiKeyRoleEnum = builder.enumType(ApiKeyRole, { name: 'ApiKeyRole' });

export const TenantRef = builder.prismaObject('Tenant', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    country: t.exposeString('country'),
    region: t.exposeString('region', { nullable: true }),
    timezone: t.exposeString('timezone'),
  }),
});

const ViewerRef = builder.objectRef<{ tenantId: string; role: ApiKeyRole; apiKeyId: string }>('Viewer').implement({
  description: 'Who is calling: the tenant and role of the API key.',
  fields: (t) => ({
    role: t.field({ type: ApiKeyRoleEnum, resolve: (v) => v.role }),
    tenant: t.prismaField({
      type: TenantRef,
      resolve: (query, v) => prisma.tenant.findUniqueOrThrow({ ...query, where: { id: v.tenantId } }),
    }),
  }),
});

builder.queryField('viewer', (t) => t.field({ type: ViewerRef, resolve: (_root, _args, ctx) => ctx.viewer }));
