import { z } from 'zod';
import { cancelCampaign, pauseCampaign, resumeCampaign, startCampaign } from '../campaigns/lifecycle.js';
import { percentDone } from '../campaigns/progress.js';
import { createCampaign } from '../campaigns/service.js';
import { prisma } from '../db/client.js';
import { CampaignNotReadyError, ForbiddenError, InvalidTransitionError, NotFoundError, ValidationError } from '../errors.js';
import { CampaignObjective, CampaignStatus, MediaType, RotationMode } from '../generated/prisma/client.js';
import type { ProgressCounters } from '../realtime/topics.js';
import { builder } from './builder.js';
import { WhatsAppInstanceRef } from './sender.js';

export const CampaignStatusEnum = builder.enumType(CampaignStatus, { name: 'CampaignStatus' });
export const CampaignObjectiveEnum = builder.enumType(CampaignObjective, { name: 'CampaignObjective' });
export const RotationModeEnum = builder.enumType(RotationMode, { name: 'RotationMode' });
export const MediaTypeEnum = builder.enumType(MediaType, { name: 'MediaType' });

function rate(numerator: number, denominator: number): number | null {
  return denominator > 0 ? Math.round((numerator / denominator) * 10000) / 10000 : null;
}

export const CountersRef = builder.objectRef<ProgressCounters>('CampaignCounters').implement({
  description: 'Counters kept in the same transaction as the recipient changes they count: always equal to a recount.',
  fields: (t) => ({
    targeted: t.exposeInt('targeted', { description: 'Recipients frozen at start.' }),
    sent: t.exposeInt('sent', { description: 'Accepted by WhatsApp (including those later reported failed).' }),
    delivered: t.exposeInt('delivered'),
    read: t.exposeInt('read'),
    replied: t.exposeInt('replied'),
    clicked: t.exposeInt('clicked'),
    converted: t.exposeInt('converted'),
    failed: t.exposeInt('failed'),
    skipped: t.exposeInt('skipped'),
    unknown: t.exposeInt('unknown', { description: 'Sends whose outcome is unknown (timeout or crash mid-call); never retried automatically.' }),
    remaining: t.exposeInt('remaining', { description: 'Still queued or being sent.' }),
    percentDone: t.float({ resolve: (c) => percentDone(c) }),
    deliveryRate: t.float({ nullable: true, description: 'delivered / sent', resolve: (c) => rate(c.delivered, c.sent) }),
    readRate: t.float({ nullable: true, description: 'read / delivered', resolve: (c) => rate(c.read, c.delivered) }),
    replyRate: t.float({ nullable: true, description: 'replied / delivered', resolve: (c) => rate(c.replied, c.delivered) }),
  }),
});

const COUNTER_SELECT = {
  targetedCount: true,
  sentCount: true,
  deliveredCount: true,
  readCount: true,
  repliedCount: true,
  clickedCount: true,
  convertedCount: true,
  failedCount: true,
  skippedCount: true,
  unknownCount: true,
  remainingCount: true,
} as const;

type CounterColumns = { [K in keyof typeof COUNTER_SELECT]: number };

function counters(c: CounterColumns): ProgressCounters {
  return {
    targeted: c.targetedCount,
    sent: c.sentCount,
    delivered: c.deliveredCount,
    read: c.readCount,
    replied: c.repliedCount,
    clicked: c.clickedCount,
    converted: c.convertedCount,
    failed: c.failedCount,
    skipped: c.skippedCount,
    unknown: c.unknownCount,
    remaining: c.remainingCount,
  };
}

export const CampaignMessageRef = builder.prismaObject('CampaignMessage', {
  name: 'CampaignMessage',
  description: 'A variation of the campaign message.',
  fields: (t) => ({
    id: t.exposeID('id'),
    order: t.exposeInt('order'),
    text: t.exposeString('text'),
    mediaType: t.expose('mediaType', { type: MediaTypeEnum, nullable: true }),
    mediaUrl: t.exposeString('mediaUrl', { nullable: true }),
    mediaMimetype: t.exposeString('mediaMimetype', { nullable: true }),
    mediaFileName: t.exposeString('mediaFileName', { nullable: true }),
    abVariant: t.exposeString('abVariant', { nullable: true }),
    abWeight: t.exposeFloat('abWeight', { nullable: true }),
  }),
});

export const CampaignRef = builder.prismaNode('Campaign', {
  id: { field: 'id' },
  findUnique: (id, ctx) => ({ id, tenantId: ctx.viewer.tenantId }),
  // Another tenant's id is simply not found: node(id) answers null.
  nullable: true,
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    objective: t.expose('objective', { type: CampaignObjectiveEnum }),
    status: t.expose('status', { type: CampaignStatusEnum }),
    rotationMode: t.expose('rotationMode', { type: RotationModeEnum }),
    pauseReason: t.exposeString('pauseReason', { nullable: true }),
    resumesAt: t.expose('resumesAt', { type: 'DateTime', nullable: true, description: 'When outside its sending window: the next opening.' }),
    messages: t.relation('messages', { query: { orderBy: [{ order: 'asc' }, { createdAt: 'asc' }] } }),
    instances: t.field({
      type: [WhatsAppInstanceRef],
      select: (_args, _ctx, nestedSelection) => ({
        instances: { select: { instance: nestedSelection(true) }, orderBy: { addedAt: 'asc' } },
      }),
      resolve: (c) => c.instances.map((l) => l.instance),
    }),
    counters: t.field({ type: CountersRef, select: COUNTER_SELECT, resolve: (c) => counters(c) }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    pausedAt: t.expose('pausedAt', { type: 'DateTime', nullable: true }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
    cancelledAt: t.expose('cancelledAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.queryFields((t) => ({
  campaign: t.prismaField({
    type: CampaignRef,
    nullable: true,
    args: { id: t.arg.globalID({ required: true, for: CampaignRef }) },
    resolve: (query, _root, { id }, ctx) => prisma.campaign.findFirst({ ...query, where: { id: id.id, tenantId: ctx.viewer.tenantId } }),
  }),
  campaigns: t.prismaConnection({
    type: CampaignRef,
    cursor: 'id',
    args: { status: t.arg({ type: [CampaignStatusEnum] }) },
    resolve: (query, _root, args, ctx) =>
      prisma.campaign.findMany({
        ...query,
        where: { tenantId: ctx.viewer.tenantId, ...(args.status?.length ? { status: { in: args.status } } : {}) },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      }),
  }),
}));

const MessageInput = builder.inputType('CampaignMessageInput', {
  fields: (t) => ({
    text: t.string({ required: true, validate: z.string().min(1, 'the message is empty').max(4096) }),
    mediaType: t.field({ type: MediaTypeEnum }),
    mediaUrl: t.string({ validate: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }) }),
    mediaMimetype: t.string(),
    mediaFileName: t.string(),
    abVariant: t.string({ validate: z.string().regex(/^[A-Z]$/, 'a variant is one capital letter') }),
    abWeight: t.float({ validate: z.number().min(0).max(100) }),
  }),
});

const TagRulesInput = builder.inputType('TagAudienceInput', {
  fields: (t) => ({
    any: t.stringList({ description: 'Contacts with at least one of these tags.' }),
    all: t.stringList({ description: 'Contacts with every one of these tags.' }),
    none: t.stringList({ description: 'Contacts with none of these tags.' }),
  }),
});

const AudienceInput = builder.inputType('CampaignAudienceInput', {
  isOneOf: true,
  description: 'Exactly one of: every contact, tag rules, a saved segment, or explicit contacts.',
  fields: (t) => ({
    all: t.boolean(),
    tags: t.field({ type: TagRulesInput }),
    segmentId: t.globalID(),
    contactIds: t.globalIDList(),
  }),
});

const CreateCampaignInput = builder.inputType('CreateCampaignInput', {
  fields: (t) => ({
    name: t.string({ required: true, validate: z.string().trim().min(1).max(200) }),
    description: t.string({ validate: z.string().max(2000) }),
    objective: t.field({ type: CampaignObjectiveEnum }),
    rotationMode: t.field({ type: RotationModeEnum }),
    messages: t.field({ type: [MessageInput], validate: z.array(z.unknown()).max(20, 'at most 20 variations') }),
    audience: t.field({ type: AudienceInput }),
    instanceIds: t.globalIDList({ for: WhatsAppInstanceRef }),
    minDelayMs: t.int({ validate: z.number().int().min(0).max(600_000) }),
    maxDelayMs: t.int({ validate: z.number().int().min(0).max(600_000) }),
    maxAttempts: t.int({ validate: z.number().int().min(1).max(10) }),
    errorThreshold: t.int({ validate: z.number().int().min(1).max(10_000) }),
  }),
});

const TRANSITION_ERRORS = [ForbiddenError, NotFoundError, InvalidTransitionError] as const;

builder.mutationFields((t) => ({
  createCampaign: t.field({
    type: CampaignRef,
    authScopes: { operator: true },
    errors: { types: [ValidationError, ForbiddenError] },
    args: { input: t.arg({ type: CreateCampaignInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      createCampaign(
        ctx.viewer.tenantId,
        {
          ...input,
          instanceIds: input.instanceIds?.map((g) => g.id),
          audience: input.audience && {
            ...input.audience,
            segmentId: input.audience.segmentId?.id,
            contactIds: input.audience.contactIds?.map((g) => g.id),
          },
        },
        `api-key:${ctx.viewer.apiKeyId}`,
      ),
  }),
  startCampaign: t.field({
    type: CampaignRef,
    description: 'Freezes the audience into recipients and starts sending.',
    authScopes: { operator: true },
    errors: { types: [...TRANSITION_ERRORS, CampaignNotReadyError] },
    args: { id: t.arg.globalID({ required: true, for: CampaignRef }) },
    resolve: async (_root, { id }, ctx) => {
      await startCampaign(ctx.viewer.tenantId, id.id, `api-key:${ctx.viewer.apiKeyId}`);
      return prisma.campaign.findUniqueOrThrow({ where: { id: id.id } });
    },
  }),
  pauseCampaign: t.field({
    type: CampaignRef,
    description: 'Stops sending. When it returns, no further send of this campaign starts.',
    authScopes: { operator: true },
    errors: { types: [...TRANSITION_ERRORS] },
    args: { id: t.arg.globalID({ required: true, for: CampaignRef }), reason: t.arg.string() },
    resolve: async (_root, { id, reason }, ctx) => {
      await pauseCampaign(ctx.viewer.tenantId, id.id, `api-key:${ctx.viewer.apiKeyId}`, reason ?? null);
      return prisma.campaign.findUniqueOrThrow({ where: { id: id.id } });
    },
  }),
  resumeCampaign: t.field({
    type: CampaignRef,
    authScopes: { operator: true },
    errors: { types: [...TRANSITION_ERRORS] },
    args: { id: t.arg.globalID({ required: true, for: CampaignRef }) },
    resolve: async (_root, { id }, ctx) => {
      await resumeCampaign(ctx.viewer.tenantId, id.id, `api-key:${ctx.viewer.apiKeyId}`);
      return prisma.campaign.findUniqueOrThrow({ where: { id: id.id } });
    },
  }),
  cancelCampaign: t.field({
    type: CampaignRef,
    description: 'Stops the campaign for good; recipients not yet sent are skipped.',
    authScopes: { operator: true },
    errors: { types: [...TRANSITION_ERRORS] },
    args: { id: t.arg.globalID({ required: true, for: CampaignRef }) },
    resolve: async (_root, { id }, ctx) => {
      await cancelCampaign(ctx.viewer.tenantId, id.id, `api-key:${ctx.viewer.apiKeyId}`);
      return prisma.campaign.findUniqueOrThrow({ where: { id: id.id } });
    },
  }),
}));
