import { z } from 'zod';
import { healthStatus } from '../domain/health.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import { ConnectionState } from '../generated/prisma/client.js';
import { registerEvolutionServer, registerInstance, webhookUrl } from '../senders/service.js';
import { prisma } from '../db/client.js';
import { builder } from './builder.js';

export const ConnectionStateEnum = builder.enumType(ConnectionState, { name: 'ConnectionState' });
export const HealthStatusEnum = builder.enumType('HealthStatus', { values: ['EXCELLENT', 'GOOD', 'WARNING', 'CRITICAL'] as const });

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
    paused: t.boolean({ select: { manuallyPaused: true, autoPausedAt: true }, resolve: (i) => i.manuallyPaused || i.autoPausedAt !== null }),
    pausedReason: t.exposeString('pausedReason', { nullable: true }),
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

builder.queryFields((t) => ({
  evolutionServers: t.prismaField({
    type: [EvolutionServerRef],
    resolve: (query, _root, _args, ctx) =>
      prisma.evolutionServer.findMany({ ...query, where: { tenantId: ctx.viewer.tenantId }, orderBy: { createdAt: 'asc' } }),
  }),
  instances: t.prismaField({
    type: [WhatsAppInstanceRef],
    resolve: (query, _root, _args, ctx) =>
      prisma.whatsAppInstance.findMany({ ...query, where: { tenantId: ctx.viewer.tenantId }, orderBy: { createdAt: 'asc' } }),
  }),
}));

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
