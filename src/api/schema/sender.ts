import { z } from 'zod';
import { prisma } from '../../infra/db/client.js';
import { healthStatus } from '../../domain/health.js';
import { ConflictError, ForbiddenError, InvalidTransitionError, NotFoundError, ValidationError } from '../../domain/errors.js';
import { ConnectionState, EvolutionIntegration, type Prisma } from '../../generated/prisma/client.js';
import {
  checkInstanceConnection,
  deleteEvolutionServer,
  deleteInstance,
  pauseInstance,
  registerEvolutionServer,
  registerInstance,
  resumeInstance,
  updateEvolutionServer,
  updateInstance,
  webhookUrl,
} from '../../features/senders/service.js';
import { builder } from './builder.js';
import { instanceTemplates } from '../../features/campaigns/templates.js';
import type { MetaTemplate } from '../../infra/evolution/wire.js';
import { templateBody, templateShape } from '../../domain/wa-template.js';
import { OrderDirectionEnum, reloadQuery } from './shared.js';

export const ConnectionStateEnum = builder.enumType(ConnectionState, { name: 'ConnectionState' });
export const EvolutionIntegrationEnum = builder.enumType(EvolutionIntegration, {
  name: 'EvolutionIntegration',
  description:
    "The Evolution integration behind an instance: WHATSAPP_BAILEYS (WhatsApp Web, QR-connected), WHATSAPP_BUSINESS (Meta's Cloud API: message templates and the 24-hour service window), EVOLUTION (Evolution's own channel, treated as Baileys).",
});
export const HealthStatusEnum = builder.enumType('HealthStatus', { values: ['EXCELLENT', 'GOOD', 'WARNING', 'CRITICAL'] as const });
export const InstancePauseReasonEnum = builder.enumType('InstancePauseReason', {
  description: 'Why an instance does not send.',
  values: {
    MANUAL: { description: 'Paused by an operator, or because Evolution refused the key or does not know the instance (see pausedReason).' },
    HEALTH: { description: 'Paused by the health rules; re-admitted after its cool-down.' },
    DISCONNECTED: {
      description: 'Not connected to WhatsApp (a send was refused for it, or Evolution said close): its sends wait, none fails; it sends again when Evolution says open.',
    },
  } as const,
});

export const EvolutionServerRef = builder.prismaNode('EvolutionServer', {
  id: { field: 'id' },
  findUnique: (id, ctx) => ({ id, tenantId: ctx.viewer.tenantId }),
  // Another tenant's id is simply not found: node(id) answers null.
  nullable: true,
  description: 'An Evolution API server; its API key is stored encrypted and never returned.',
  fields: (t) => ({
    name: t.exposeString('name'),
    baseUrl: t.exposeString('baseUrl'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    instances: t.relation('instances', { query: { orderBy: { createdAt: 'asc' } } }),
  }),
});

const InstanceHealth = builder.objectRef<{
  healthScore: number;
  sentToday: number;
  deliveredToday: number;
  readToday: number;
  failedToday: number;
  consecutiveErrors: number;
  lastSuccessAt: Date | null;
  lastDailyResetAt: Date | null;
  autoPausedAt: Date | null;
}>('InstanceHealth');
InstanceHealth.implement({
  description: 'Health of a sender (read-only): score 0–100 and today\'s counters.',
  fields: (t) => ({
    score: t.exposeFloat('healthScore'),
    status: t.field({ type: HealthStatusEnum, resolve: (h) => healthStatus(h.healthScore) }),
    sentToday: t.exposeInt('sentToday'),
    deliveredToday: t.exposeInt('deliveredToday'),
    readToday: t.exposeInt('readToday'),
    failedToday: t.exposeInt('failedToday'),
    deliveryRateToday: t.float({ nullable: true, resolve: (h) => (h.sentToday ? h.deliveredToday / h.sentToday : null) }),
    consecutiveErrors: t.exposeInt('consecutiveErrors'),
    lastSuccessAt: t.expose('lastSuccessAt', { type: 'DateTime', nullable: true }),
    lastDailyResetAt: t.expose('lastDailyResetAt', { type: 'DateTime', nullable: true }),
    autoPausedAt: t.expose('autoPausedAt', { type: 'DateTime', nullable: true }),
  }),
});

const WarmupRef = builder
  .objectRef<{ warmupEnabled: boolean; warmupStartPerDay: number; warmupIncrementPerDay: number; warmupStartedAt: Date | null }>('InstanceWarmup')
  .implement({
    description: 'A new number warms up: its daily limit starts low and grows day by day up to limitPerDay.',
    fields: (t) => ({
      enabled: t.exposeBoolean('warmupEnabled'),
      startPerDay: t.exposeInt('warmupStartPerDay'),
      incrementPerDay: t.exposeInt('warmupIncrementPerDay'),
      startedAt: t.expose('warmupStartedAt', { type: 'DateTime', nullable: true }),
    }),
  });

const InstanceTotalsRef = builder
  .objectRef<{ totalSent: number; totalDelivered: number; totalRead: number; totalFailed: number }>('InstanceTotals')
  .implement({
    fields: (t) => ({
      sent: t.exposeInt('totalSent'),
      delivered: t.exposeInt('totalDelivered'),
      read: t.exposeInt('totalRead'),
      failed: t.exposeInt('totalFailed'),
    }),
  });

const WhatsAppTemplateRef = builder.objectRef<MetaTemplate>('WhatsAppTemplate').implement({
  description: "A message template of a WhatsApp Business number, as Meta has it (listed through Evolution's /template/find).",
  fields: (t) => ({
    name: t.exposeString('name'),
    language: t.exposeString('language'),
    status: t.exposeString('status', { description: 'APPROVED, PENDING, REJECTED, …: only APPROVED ones can be sent.' }),
    category: t.string({ nullable: true, resolve: (m) => m.category ?? null }),
    body: t.string({ description: 'The body text, with its {{1}}…{{n}} parameters.', resolve: (m) => templateBody(m) }),
    bodyParameters: t.int({ resolve: (m) => templateShape(m).body }),
    headerParameters: t.int({ resolve: (m) => templateShape(m).header }),
  }),
});

const InstanceTemplatesRef = builder
  .objectRef<{ ok: boolean; message: string | null; templates: MetaTemplate[] }>('InstanceTemplates')
  .implement({
    fields: (t) => ({
      ok: t.exposeBoolean('ok', { description: 'Evolution listed them.' }),
      message: t.exposeString('message', { nullable: true, description: 'Why they could not be listed.' }),
      templates: t.field({ type: [WhatsAppTemplateRef], resolve: (r) => r.templates }),
    }),
  });

export const WhatsAppInstanceRef = builder.prismaNode('WhatsAppInstance', {
  id: { field: 'id' },
  findUnique: (id, ctx) => ({ id, tenantId: ctx.viewer.tenantId }),
  // Another tenant's id is simply not found: node(id) answers null.
  nullable: true,
  name: 'WhatsAppInstance',
  description: 'A WhatsApp number connected through Evolution, used to send campaigns.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The instance name on the Evolution server.' }),
    phone: t.exposeString('phone', { nullable: true }),
    integration: t.expose('integration', { type: EvolutionIntegrationEnum }),
    templates: t.field({
      type: InstanceTemplatesRef,
      description: "The number's message templates, read from Evolution now (WHATSAPP_BUSINESS instances only).",
      select: { name: true, integration: true, server: { select: { baseUrl: true, apiKeyEncrypted: true } } },
      resolve: async (i) => {
        if (i.integration !== 'WHATSAPP_BUSINESS') return { ok: false, message: 'only WHATSAPP_BUSINESS instances have message templates', templates: [] };
        const r = await instanceTemplates(i);
        return r.ok ? { ok: true, message: null, templates: r.templates } : { ok: false, message: r.message, templates: [] };
      },
    }),
    connectionState: t.expose('connectionState', { type: ConnectionStateEnum }),
    connectionStateAt: t.expose('connectionStateAt', { type: 'DateTime', nullable: true }),
    server: t.relation('server'),
    webhookUrl: t.string({
      description: 'The URL to configure as this instance\'s webhook on Evolution. It carries the instance secret: ADMIN only.',
      authScopes: { admin: true },
      select: { webhookSecret: true },
      resolve: (i) => webhookUrl(i.webhookSecret),
    }),
    requiresJwt: t.boolean({ select: { jwtKeyEncrypted: true }, resolve: (i) => i.jwtKeyEncrypted !== null }),
    limitPerMinute: t.exposeInt('limitPerMinute'),
    limitPerHour: t.exposeInt('limitPerHour'),
    limitPerDay: t.exposeInt('limitPerDay'),
    minDelayMs: t.exposeInt('minDelayMs'),
    maxDelayMs: t.exposeInt('maxDelayMs'),
    paused: t.boolean({
      description: 'It does not send now: paused by an operator or the health rules, or disconnected (see pauseReason).',
      select: { manuallyPaused: true, autoPausedAt: true, disconnectedSince: true },
      resolve: (i) => i.manuallyPaused || i.autoPausedAt !== null || i.disconnectedSince !== null,
    }),
    pauseReason: t.field({
      type: InstancePauseReasonEnum,
      nullable: true,
      description: 'Why it does not send (an operator pause first, then health, then disconnection); null while it may send.',
      select: { manuallyPaused: true, autoPausedAt: true, disconnectedSince: true },
      resolve: (i) => (i.manuallyPaused ? 'MANUAL' : i.autoPausedAt ? 'HEALTH' : i.disconnectedSince ? 'DISCONNECTED' : null),
    }),
    disconnectedSince: t.expose('disconnectedSince', {
      type: 'DateTime',
      nullable: true,
      description: 'Since when it is not connected to WhatsApp (its sends wait until Evolution says open); null when connected.',
    }),
    manuallyPaused: t.exposeBoolean('manuallyPaused', { description: 'Paused by an operator (or because Evolution refused the key or the instance).' }),
    pausedReason: t.exposeString('pausedReason', { nullable: true }),
    pausedAt: t.expose('pausedAt', { type: 'DateTime', nullable: true }),
    throttledUntil: t.field({
      type: 'DateTime',
      nullable: true,
      select: { throttledUntil: true },
      description: 'WhatsApp or a gateway answered "too many" (429, rate-overlimit): its sends wait until then (no failure, no health lost); null when not deferred.',
      resolve: (i) => (i.throttledUntil && i.throttledUntil.getTime() > Date.now() ? i.throttledUntil : null),
    }),
    readmittedAt: t.expose('readmittedAt', { type: 'DateTime', nullable: true, description: 'Re-admitted after a health pause: its limits ramp back up from here.' }),
    profileName: t.exposeString('profileName', { nullable: true }),
    qrCode: t.exposeString('qrCode', { nullable: true, description: 'The last QR code Evolution sent (qrcode.updated), to connect the number.' }),
    qrCodeAt: t.expose('qrCodeAt', { type: 'DateTime', nullable: true }),
    warmup: t.field({
      type: WarmupRef,
      select: { warmupEnabled: true, warmupStartPerDay: true, warmupIncrementPerDay: true, warmupStartedAt: true },
      resolve: (i) => i,
    }),
    totals: t.field({
      type: InstanceTotalsRef,
      select: { totalSent: true, totalDelivered: true, totalRead: true, totalFailed: true },
      resolve: (i) => i,
    }),
    health: t.field({
      type: InstanceHealth,
      select: {
        healthScore: true,
        sentToday: true,
        deliveredToday: true,
        readToday: true,
        failedToday: true,
        consecutiveErrors: true,
        lastSuccessAt: true,
        lastDailyResetAt: true,
        autoPausedAt: true,
      },
      resolve: (i) => i,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const InstanceOrderFieldEnum = builder.enumType('InstanceOrderField', { values: ['CREATED_AT', 'NAME', 'HEALTH_SCORE'] as const });
const InstanceOrderInput = builder.inputType('InstanceOrder', {
  fields: (t) => ({
    field: t.field({ type: InstanceOrderFieldEnum, required: true }),
    direction: t.field({ type: OrderDirectionEnum, defaultValue: 'ASC' }),
  }),
});

const InstanceFilterInput = builder.inputType('InstanceFilter', {
  fields: (t) => ({
    serverId: t.globalID({ for: EvolutionServerRef }),
    connectionState: t.field({ type: [ConnectionStateEnum], description: 'Any of these states.' }),
    paused: t.boolean({ description: 'Paused (by an operator or the health rules, or disconnected) or not.' }),
    search: t.string({ description: 'Part of the name or phone.' }),
  }),
});

const INSTANCE_ORDER = { CREATED_AT: 'createdAt', NAME: 'name', HEALTH_SCORE: 'healthScore' } as const;

function instanceWhere(tenantId: string, f: typeof InstanceFilterInput.$inferInput | null | undefined): Prisma.WhatsAppInstanceWhereInput {
  const search = f?.search?.trim();
  return {
    tenantId,
    ...(f?.serverId ? { serverId: f.serverId.id } : {}),
    ...(f?.connectionState?.length ? { connectionState: { in: f.connectionState } } : {}),
    ...(f?.paused === true ? { OR: [{ manuallyPaused: true }, { autoPausedAt: { not: null } }, { disconnectedSince: { not: null } }] } : {}),
    ...(f?.paused === false ? { manuallyPaused: false, autoPausedAt: null, disconnectedSince: null } : {}),
    ...(search ? { AND: [{ OR: [{ name: { contains: search, mode: 'insensitive' } }, { phone: { contains: search } }] }] } : {}),
  };
}

builder.queryFields((t) => ({
  evolutionServers: t.prismaConnection({
    type: EvolutionServerRef,
    cursor: 'id',
    args: { search: t.arg.string({ description: 'Part of the name or URL.' }), orderBy: t.arg({ type: OrderDirectionEnum, description: 'By name.' }) },
    totalCount: (_c, args, ctx) => prisma.evolutionServer.count({ where: serverWhere(ctx.viewer.tenantId, args.search) }),
    resolve: (query, _root, args, ctx) =>
      prisma.evolutionServer.findMany({
        ...query,
        where: serverWhere(ctx.viewer.tenantId, args.search),
        orderBy: [{ name: args.orderBy === 'DESC' ? 'desc' : 'asc' }, { id: 'asc' }],
      }),
  }),
  instances: t.prismaConnection({
    type: WhatsAppInstanceRef,
    cursor: 'id',
    args: { filter: t.arg({ type: InstanceFilterInput }), orderBy: t.arg({ type: InstanceOrderInput }) },
    totalCount: (_c, args, ctx) => prisma.whatsAppInstance.count({ where: instanceWhere(ctx.viewer.tenantId, args.filter) }),
    resolve: (query, _root, args, ctx) => {
      const dir = args.orderBy?.direction === 'DESC' ? 'desc' : 'asc';
      return prisma.whatsAppInstance.findMany({
        ...query,
        where: instanceWhere(ctx.viewer.tenantId, args.filter),
        orderBy: [{ [INSTANCE_ORDER[args.orderBy?.field ?? 'CREATED_AT']]: dir }, { id: dir }],
      });
    },
  }),
}));

function serverWhere(tenantId: string, search: string | null | undefined): Prisma.EvolutionServerWhereInput {
  const q = search?.trim();
  return { tenantId, ...(q ? { OR: [{ name: { contains: q, mode: 'insensitive' } }, { baseUrl: { contains: q, mode: 'insensitive' } }] } : {}) };
}

const RegisterServerInput = builder.inputType('RegisterEvolutionServerInput', {
  fields: (t) => ({
    name: t.string({ required: true, validate: z.string().trim().min(1).max(100) }),
    baseUrl: t.string({ required: true, validate: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }) }),
    apiKey: t.string({ required: true, description: "Evolution's global API key; stored encrypted.", validate: z.string().min(1).max(500) }),
  }),
});

builder.mutationField('registerEvolutionServer', (t) =>
  t.field({
    type: EvolutionServerRef,
    authScopes: { admin: true },
    errors: { types: [ValidationError, ForbiddenError, ConflictError] },
    args: { input: t.arg({ type: RegisterServerInput, required: true }) },
    resolve: (_root, { input }, ctx) => registerEvolutionServer(ctx.viewer.tenantId, input),
  }),
);

const RegisterInstanceInput = builder.inputType('RegisterInstanceInput', {
  fields: (t) => ({
    serverId: t.globalID({ required: true, for: EvolutionServerRef }),
    name: t.string({ required: true, validate: z.string().trim().min(1).max(100) }),
    phone: t.string(),
    limitPerMinute: t.int({ validate: z.number().int().min(1).max(1000) }),
    limitPerHour: t.int({ validate: z.number().int().min(1).max(60_000) }),
    limitPerDay: t.int({ validate: z.number().int().min(1).max(1_000_000) }),
    minDelayMs: t.int({ validate: z.number().int().min(0).max(600_000) }),
    maxDelayMs: t.int({ validate: z.number().int().min(0).max(600_000) }),
    jwtKey: t.string({ description: "Evolution's webhook `jwt_key`, when the instance signs its webhooks.", validate: z.string().min(8).max(500) }),
    warmupEnabled: t.boolean(),
    warmupStartPerDay: t.int({ validate: z.number().int().min(1) }),
    warmupIncrementPerDay: t.int({ validate: z.number().int().min(0) }),
    integration: t.field({ type: EvolutionIntegrationEnum, description: 'When not given, read from Evolution (fetchInstances); WHATSAPP_BAILEYS if Evolution does not know the instance yet.' }),
  }),
});

builder.mutationField('registerInstance', (t) =>
  t.field({
    type: WhatsAppInstanceRef,
    description: 'Registers a WhatsApp instance; configure the returned webhookUrl on Evolution.',
    authScopes: { admin: true },
    errors: { types: [ValidationError, ForbiddenError, ConflictError, NotFoundError] },
    args: { input: t.arg({ type: RegisterInstanceInput, required: true }) },
    resolve: (_root, { input }, ctx) => registerInstance(ctx.viewer.tenantId, { ...input, serverId: input.serverId.id }),
  }),
);

const SENDER_ERRORS = [ValidationError, ForbiddenError, NotFoundError, ConflictError] as const;

const UpdateServerInput = builder.inputType('UpdateEvolutionServerInput', {
  fields: (t) => ({
    name: t.string({ validate: z.string().trim().min(1).max(100) }),
    baseUrl: t.string({ validate: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }) }),
    apiKey: t.string({ description: 'A new API key (stored encrypted).', validate: z.string().min(1).max(500) }),
  }),
});

const UpdateInstanceInput = builder.inputType('UpdateInstanceInput', {
  description: 'Only the fields given change. jwtKey: null removes it.',
  fields: (t) => ({
    name: t.string({ validate: z.string().trim().min(1).max(100) }),
    phone: t.string({ validate: z.string().max(32) }),
    limitPerMinute: t.int({ validate: z.number().int().min(1).max(1000) }),
    limitPerHour: t.int({ validate: z.number().int().min(1).max(60_000) }),
    limitPerDay: t.int({ validate: z.number().int().min(1).max(1_000_000) }),
    minDelayMs: t.int({ validate: z.number().int().min(0).max(600_000) }),
    maxDelayMs: t.int({ validate: z.number().int().min(0).max(600_000) }),
    jwtKey: t.string({ validate: z.string().min(8).max(500) }),
    warmupEnabled: t.boolean(),
    warmupStartPerDay: t.int({ validate: z.number().int().min(1) }),
    warmupIncrementPerDay: t.int({ validate: z.number().int().min(0) }),
    integration: t.field({ type: EvolutionIntegrationEnum }),
  }),
});

const ConnectionCheckRef = builder
  .objectRef<Awaited<ReturnType<typeof checkInstanceConnection>>>('InstanceConnectionCheck')
  .implement({
    description: "Evolution's answer to GET /instance/connectionState.",
    fields: (t) => ({
      ok: t.exposeBoolean('ok', { description: 'Evolution answered 200.' }),
      state: t.field({ type: ConnectionStateEnum, nullable: true, resolve: (r) => r.state as ConnectionState | null }),
      httpStatus: t.exposeInt('httpStatus', { nullable: true }),
      message: t.exposeString('message', { nullable: true, description: "Evolution's error message when not ok." }),
      checkedAt: t.expose('checkedAt', { type: 'DateTime' }),
      instance: t.prismaField({ type: WhatsAppInstanceRef, resolve: (query, r) => prisma.whatsAppInstance.findUniqueOrThrow({ ...reloadQuery(query), where: { id: r.instance.id } }) }),
    }),
  });

builder.mutationFields((t) => ({
  updateEvolutionServer: t.prismaField({
    type: EvolutionServerRef,
    authScopes: { admin: true },
    errors: { types: [...SENDER_ERRORS] },
    args: { id: t.arg.globalID({ required: true, for: EvolutionServerRef }), input: t.arg({ type: UpdateServerInput, required: true }) },
    resolve: async (query, _root, { id, input }, ctx) => {
      await updateEvolutionServer(ctx.viewer.tenantId, id.id, input);
      return prisma.evolutionServer.findUniqueOrThrow({ ...reloadQuery(query), where: { id: id.id } });
    },
  }),
  deleteEvolutionServer: t.globalID({
    description: 'Deletes a server without instances; returns its id.',
    authScopes: { admin: true },
    errors: { types: [...SENDER_ERRORS] },
    args: { id: t.arg.globalID({ required: true, for: EvolutionServerRef }) },
    resolve: async (_root, { id }, ctx) => ({ type: 'EvolutionServer', id: await deleteEvolutionServer(ctx.viewer.tenantId, id.id) }),
  }),
  updateInstance: t.prismaField({
    type: WhatsAppInstanceRef,
    authScopes: { admin: true },
    errors: { types: [...SENDER_ERRORS] },
    args: { id: t.arg.globalID({ required: true, for: WhatsAppInstanceRef }), input: t.arg({ type: UpdateInstanceInput, required: true }) },
    resolve: async (query, _root, { id, input }, ctx) => {
      await updateInstance(ctx.viewer.tenantId, id.id, input);
      return prisma.whatsAppInstance.findUniqueOrThrow({ ...reloadQuery(query), where: { id: id.id } });
    },
  }),
  pauseInstance: t.prismaField({
    type: WhatsAppInstanceRef,
    description: 'Stops the instance sending until resumed; its share of running campaigns moves to their other instances.',
    authScopes: { admin: true },
    errors: { types: [ValidationError, ForbiddenError, NotFoundError, InvalidTransitionError] },
    args: { id: t.arg.globalID({ required: true, for: WhatsAppInstanceRef }), reason: t.arg.string({ validate: z.string().max(500) }) },
    resolve: async (query, _root, { id, reason }, ctx) => {
      await pauseInstance(ctx.viewer.tenantId, id.id, reason ?? null, `api-key:${ctx.viewer.apiKeyId}`);
      return prisma.whatsAppInstance.findUniqueOrThrow({ ...reloadQuery(query), where: { id: id.id } });
    },
  }),
  resumeInstance: t.prismaField({
    type: WhatsAppInstanceRef,
    description: 'Lets a paused instance send again (one paused for poor health comes back gradually).',
    authScopes: { admin: true },
    errors: { types: [ForbiddenError, NotFoundError, InvalidTransitionError] },
    args: { id: t.arg.globalID({ required: true, for: WhatsAppInstanceRef }) },
    resolve: async (query, _root, { id }, ctx) => {
      await resumeInstance(ctx.viewer.tenantId, id.id, `api-key:${ctx.viewer.apiKeyId}`);
      return prisma.whatsAppInstance.findUniqueOrThrow({ ...reloadQuery(query), where: { id: id.id } });
    },
  }),
  deleteInstance: t.globalID({
    description: 'Deletes an instance that never sent (otherwise pause it: its history stays); returns its id.',
    authScopes: { admin: true },
    errors: { types: [...SENDER_ERRORS] },
    args: { id: t.arg.globalID({ required: true, for: WhatsAppInstanceRef }) },
    resolve: async (_root, { id }, ctx) => ({ type: 'WhatsAppInstance', id: await deleteInstance(ctx.viewer.tenantId, id.id) }),
  }),
  checkInstanceConnection: t.field({
    type: ConnectionCheckRef,
    description: "Asks Evolution for the instance's connection state and records it.",
    authScopes: { operator: true },
    errors: { types: [ForbiddenError, NotFoundError] },
    args: { id: t.arg.globalID({ required: true, for: WhatsAppInstanceRef }) },
    resolve: (_root, { id }, ctx) => checkInstanceConnection(ctx.viewer.tenantId, id.id),
  }),
}));
