import { z } from 'zod';
import { type MessageTotals, tenantStats } from '../../features/analytics/tenant-stats.js';
import { createApiKey, revokeTenantApiKey } from '../../features/auth/api-keys.js';
import { prisma } from '../../infra/db/client.js';
import { DAILY_KEYS } from '../../domain/counters.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../domain/errors.js';
import { ApiKeyRole } from '../../generated/prisma/client.js';
import { addHoliday, deleteHoliday, updateTenantSettings } from '../../features/tenants/service.js';
import { builder } from './builder.js';
import { counterFields } from './counters.js';
import { FrequencyCapInput, FrequencyCapRef, OrderDirectionEnum, reloadQuery } from './shared.js';

export const ApiKeyRoleEnum = builder.enumType(ApiKeyRole, {
  name: 'ApiKeyRole',
  description: 'ADMIN: everything, incl. API keys and senders; OPERATOR: campaigns, contacts, segments; VIEWER: read only.',
});

export const TenantRef = builder.prismaObject('Tenant', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    country: t.exposeString('country', { description: 'ISO 3166 country: default region of phone numbers and national holidays.' }),
    region: t.exposeString('region', { nullable: true, description: 'Subdivision for regional holidays (e.g. SP).' }),
    timezone: t.exposeString('timezone'),
    healthPauseThreshold: t.exposeInt('healthPauseThreshold', { description: 'An instance whose health score falls below this is paused automatically.' }),
    healthCooldownMinutes: t.exposeInt('healthCooldownMinutes', { description: 'How long an instance paused for poor health rests before it may be re-admitted.' }),
    healthRecoveryPerHour: t.exposeFloat('healthRecoveryPerHour', { description: 'Health points a resting instance regains per hour.' }),
    replyWindowHours: t.exposeInt('replyWindowHours', { description: 'An incoming message within this many hours of a send counts as a reply to it.' }),
    optOutKeywords: t.exposeStringList('optOutKeywords', { description: 'A reply that is exactly one of these opts the contact out.' }),
    optInKeywords: t.exposeStringList('optInKeywords', { description: 'A message that is exactly one of these opts the contact in (source KEYWORD).' }),
    optInReply: t.exposeString('optInReply', { nullable: true, description: 'Sent back when a contact opts in by keyword (null: nothing is sent).' }),
    optOutReply: t.exposeString('optOutReply', { nullable: true, description: 'Sent back when a contact opts out by keyword (null: nothing is sent).' }),
    requireOptIn: t.exposeBoolean('requireOptIn', {
      description: 'A contact without opt-in is never in an audience and is never sent (checked again at every send).',
    }),
    frequencyCap: t.field({
      type: FrequencyCapRef,
      nullable: true,
      description: 'At most this many campaign messages per contact in the period, across campaigns (a campaign may have its own, or be exempt). Null: no cap.',
      select: { frequencyCapMessages: true, frequencyCapHours: true },
      resolve: (t) => (t.frequencyCapMessages !== null && t.frequencyCapHours !== null ? { messages: t.frequencyCapMessages, periodHours: t.frequencyCapHours } : null),
    }),
    customFieldKeys: t.exposeStringList('customFieldKeys', { description: 'Custom fields known from contacts: usable as template variables.' }),
  }),
});

export const ApiKeyRef = builder.prismaNode('ApiKey', {
  id: { field: 'id' },
  findUnique: (id, ctx) => ({ id, tenantId: ctx.viewer.tenantId }),
  nullable: true,
  description: 'An API key; the key itself is shown only once, when created (only its hash is stored).',
  // Seeing the tenant's keys is key management: ADMIN only.
  authScopes: { admin: true },
  fields: (t) => ({
    name: t.exposeString('name'),
    prefix: t.exposeString('prefix', { description: 'The first characters of the key, to tell keys apart. Not secret.' }),
    role: t.expose('role', { type: ApiKeyRoleEnum }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const HolidayRef = builder.prismaNode('Holiday', {
  id: { field: 'id' },
  findUnique: (id, ctx) => ({ id, tenantId: ctx.viewer.tenantId }),
  nullable: true,
  description: "One of the tenant's own days off (on top of national and regional holidays).",
  fields: (t) => ({
    date: t.string({ description: 'YYYY-MM-DD.', resolve: (h) => h.date.toISOString().slice(0, 10) }),
    name: t.exposeString('name'),
    yearly: t.exposeBoolean('yearly', { description: 'Repeats every year on the same month and day.' }),
  }),
});

const ViewerRef = builder.objectRef<{ tenantId: string; role: ApiKeyRole; apiKeyId: string }>('Viewer').implement({
  description: 'Who is calling: the tenant and role of the API key.',
  fields: (t) => ({
    role: t.field({ type: ApiKeyRoleEnum, resolve: (v) => v.role }),
    apiKeyId: t.globalID({ resolve: (v) => ({ type: 'ApiKey', id: v.apiKeyId }) }),
    tenant: t.prismaField({
      type: TenantRef,
      resolve: (query, v) => prisma.tenant.findUniqueOrThrow({ ...reloadQuery(query), where: { id: v.tenantId } }),
    }),
  }),
});

const MessageTotalsRef = builder.objectRef<MessageTotals>('MessageTotals').implement({
  fields: (t) => counterFields(t, DAILY_KEYS),
});

type Stats = Awaited<ReturnType<typeof tenantStats>>;

const TenantStatsRef = builder.objectRef<Stats>('TenantStats').implement({
  description: "The tenant's figures, from counters (never a scan of recipients).",
  fields: (t) => ({
    campaignsByStatus: t.field({
      type: [builder.objectRef<{ status: string; count: number }>('CampaignStatusCount').implement({
        fields: (f) => ({ status: f.exposeString('status'), count: f.exposeInt('count') }),
      })],
      resolve: (s) => s.campaignsByStatus,
    }),
    today: t.field({ type: MessageTotalsRef, description: "Today in the tenant's time zone (instances' daily counters).", resolve: (s) => s.today }),
    overall: t.field({ type: MessageTotalsRef, description: 'Across every campaign.', resolve: (s) => s.overall }),
    overallTargeted: t.int({ resolve: (s) => s.overall.targeted }),
    overallReplied: t.int({ resolve: (s) => s.overall.replied }),
    overallSkipped: t.int({ resolve: (s) => s.overall.skipped }),
    overallUnknown: t.int({ resolve: (s) => s.overall.unknown }),
    contacts: t.int({ resolve: (s) => s.contacts.total }),
    contactsOptedOut: t.int({ resolve: (s) => s.contacts.optedOut }),
    contactsBlocked: t.int({ resolve: (s) => s.contacts.blocked }),
    contactsNotOnWhatsapp: t.int({ resolve: (s) => s.contacts.notOnWhatsapp }),
    instances: t.int({ resolve: (s) => s.instances.total }),
    instancesPaused: t.int({ resolve: (s) => s.instances.paused }),
    instancesDisconnected: t.int({ resolve: (s) => s.instances.disconnected }),
  }),
});

builder.queryFields((t) => ({
  viewer: t.field({ type: ViewerRef, resolve: (_root, _args, ctx) => ctx.viewer }),
  stats: t.field({ type: TenantStatsRef, description: "Totals by status; messages today and overall.", resolve: (_root, _args, ctx) => tenantStats(ctx.viewer.tenantId) }),
  apiKeys: t.prismaConnection({
    type: ApiKeyRef,
    cursor: 'id',
    authScopes: { admin: true },
    args: {
      includeRevoked: t.arg.boolean({ defaultValue: false }),
      role: t.arg({ type: ApiKeyRoleEnum }),
      orderBy: t.arg({ type: OrderDirectionEnum, defaultValue: 'DESC', description: 'By creation time.' }),
    },
    totalCount: (_c, args, ctx) =>
      prisma.apiKey.count({ where: { tenantId: ctx.viewer.tenantId, ...(args.includeRevoked ? {} : { revokedAt: null }), ...(args.role ? { role: args.role } : {}) } }),
    resolve: (query, _root, args, ctx) => {
      const dir = args.orderBy === 'ASC' ? 'asc' : 'desc';
      return prisma.apiKey.findMany({
        ...query,
        where: { tenantId: ctx.viewer.tenantId, ...(args.includeRevoked ? {} : { revokedAt: null }), ...(args.role ? { role: args.role } : {}) },
        orderBy: [{ createdAt: dir }, { id: dir }],
      });
    },
  }),
  holidays: t.prismaConnection({
    type: HolidayRef,
    cursor: 'id',
    description: "The tenant's own holidays, by date.",
    args: { from: t.arg({ type: 'DateTime' }), to: t.arg({ type: 'DateTime' }) },
    resolve: (query, _root, args, ctx) =>
      prisma.holiday.findMany({
        ...query,
        where: {
          tenantId: ctx.viewer.tenantId,
          ...(args.from || args.to ? { date: { ...(args.from ? { gte: args.from } : {}), ...(args.to ? { lt: args.to } : {}) } } : {}),
        },
        orderBy: [{ date: 'asc' }, { id: 'asc' }],
      }),
  }),
}));

const CreatedApiKeyRef = builder.objectRef<{ key: string; apiKey: { id: string } }>('CreatedApiKey').implement({
  fields: (t) => ({
    key: t.exposeString('key', { description: 'The key itself. Shown only now: store it safely.' }),
    apiKey: t.prismaField({ type: ApiKeyRef, resolve: (query, r) => prisma.apiKey.findUniqueOrThrow({ ...reloadQuery(query), where: { id: r.apiKey.id } }) }),
  }),
});

const UpdateTenantInput = builder.inputType('UpdateTenantInput', {
  description: 'Only the fields given change.',
  fields: (t) => ({
    name: t.string({ validate: z.string().trim().min(1).max(200) }),
    country: t.string({ validate: z.string().regex(/^[A-Z]{2}$/, 'an ISO 3166 country code, e.g. BR') }),
    region: t.string({ validate: z.string().max(10) }),
    timezone: t.string({ description: 'IANA time zone, e.g. America/Sao_Paulo.' }),
    healthPauseThreshold: t.int({ validate: z.number().int().min(0).max(100) }),
    healthCooldownMinutes: t.int({ validate: z.number().int().min(1).max(7 * 24 * 60) }),
    healthRecoveryPerHour: t.float({ validate: z.number().min(0).max(100) }),
    replyWindowHours: t.int({ validate: z.number().int().min(1).max(24 * 30) }),
    optOutKeywords: t.stringList({ validate: z.array(z.string().trim().min(1).max(40)).max(50) }),
    optInKeywords: t.stringList({ validate: z.array(z.string().trim().min(1).max(40)).max(50) }),
    optInReply: t.string({ validate: z.string().max(1000) }),
    optOutReply: t.string({ validate: z.string().max(1000) }),
    requireOptIn: t.boolean(),
    frequencyCap: t.field({ type: FrequencyCapInput, description: 'Null removes the cap.' }),
  }),
});

const HolidayInput = builder.inputType('HolidayInput', {
  fields: (t) => ({
    date: t.string({ required: true, description: 'YYYY-MM-DD.' }),
    name: t.string({ required: true, validate: z.string().trim().min(1).max(200) }),
    yearly: t.boolean({ defaultValue: false }),
  }),
});

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: CreatedApiKeyRef,
    description: 'A new API key for this tenant; the key is returned once.',
    authScopes: { admin: true },
    errors: { types: [ValidationError, ForbiddenError] },
    args: {
      name: t.arg.string({ required: true, validate: z.string().trim().min(1).max(100) }),
      role: t.arg({ type: ApiKeyRoleEnum, required: true }),
    },
    resolve: (_root, { name, role }, ctx) => createApiKey(ctx.viewer.tenantId, name.trim(), role),
  }),
  revokeApiKey: t.prismaField({
    type: ApiKeyRef,
    description: 'Revokes a key at once. The last active ADMIN key cannot be revoked.',
    authScopes: { admin: true },
    errors: { types: [ForbiddenError, NotFoundError, ConflictError] },
    args: { id: t.arg.globalID({ required: true, for: ApiKeyRef }) },
    resolve: async (query, _root, { id }, ctx) => {
      await revokeTenantApiKey(ctx.viewer.tenantId, id.id);
      return prisma.apiKey.findUniqueOrThrow({ ...reloadQuery(query), where: { id: id.id } });
    },
  }),
  updateTenant: t.prismaField({
    type: TenantRef,
    description: "The tenant's settings (country, time zone, health and reply rules).",
    authScopes: { admin: true },
    errors: { types: [ValidationError, ForbiddenError] },
    args: { input: t.arg({ type: UpdateTenantInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      await updateTenantSettings(ctx.viewer.tenantId, input);
      return prisma.tenant.findUniqueOrThrow({ ...reloadQuery(query), where: { id: ctx.viewer.tenantId } });
    },
  }),
  addHoliday: t.prismaField({
    type: HolidayRef,
    description: 'A day the tenant does not send on (campaigns that respect holidays wait it out).',
    authScopes: { operator: true },
    errors: { types: [ValidationError, ForbiddenError, ConflictError] },
    args: { input: t.arg({ type: HolidayInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const h = await addHoliday(ctx.viewer.tenantId, { date: input.date, name: input.name.trim(), yearly: input.yearly ?? false });
      return prisma.holiday.findUniqueOrThrow({ ...reloadQuery(query), where: { id: h.id } });
    },
  }),
  deleteHoliday: t.globalID({
    authScopes: { operator: true },
    errors: { types: [ForbiddenError, NotFoundError] },
    args: { id: t.arg.globalID({ required: true, for: HolidayRef }) },
    resolve: async (_root, { id }, ctx) => ({ type: 'Holiday', id: await deleteHoliday(ctx.viewer.tenantId, id.id) }),
  }),
}));
