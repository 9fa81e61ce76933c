import { z } from 'zod';
import { recordConversion, type RecordedConversion } from '../../features/conversions/record.js';
import { prisma } from '../../infra/db/client.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../domain/errors.js';
import { builder } from './builder.js';
import { CampaignRef } from './campaign.js';
import { ContactRef } from './contact.js';

// Conversions attributed to campaign recipients (what the conversion rate and revenue count).

const ConversionRef = builder.objectRef<RecordedConversion>('Conversion').implement({
  description: 'A conversion attributed to a campaign recipient.',
  fields: (t) => ({
    id: t.exposeID('id'),
    recipientId: t.exposeID('recipientId'),
    campaign: t.field({
      type: CampaignRef,
      nullable: true,
      resolve: (c, _args, ctx) => prisma.campaign.findFirst({ where: { id: c.campaignId, tenantId: ctx.viewer.tenantId } }),
    }),
    contact: t.field({
      type: ContactRef,
      nullable: true,
      resolve: (c, _args, ctx) => prisma.contact.findFirst({ where: { id: c.contactId, tenantId: ctx.viewer.tenantId } }),
    }),
    value: t.exposeFloat('value', { nullable: true }),
    occurredAt: t.field({ type: 'DateTime', resolve: (c) => c.occurredAt }),
    externalId: t.exposeString('externalId', { nullable: true }),
    recorded: t.exposeBoolean('recorded', { description: 'False when this externalId had already been recorded: nothing changed.' }),
  }),
});

const RecordConversionInput = builder.inputType('RecordConversionInput', {
  description: 'Identify the recipient by recipientId (as in the campaign report), or by campaignId and phone.',
  fields: (t) => ({
    recipientId: t.id({ description: 'The recipient_id column of the campaign report.' }),
    campaignId: t.globalID({ for: CampaignRef }),
    phone: t.string({ validate: z.string().max(40) }),
    value: t.float({ description: 'Money value of the conversion (2 decimals).' }),
    occurredAt: t.field({ type: 'DateTime', description: 'When it happened; now when absent.' }),
    externalId: t.string({ description: 'Your id for the conversion: recording it again changes nothing.', validate: z.string().max(200) }),
  }),
});

builder.mutationFields((t) => ({
  recordConversion: t.field({
    type: ConversionRef,
    description: 'Records a conversion of a campaign recipient (idempotent by externalId).',
    authScopes: { operator: true },
    errors: { types: [ValidationError, ForbiddenError, NotFoundError, ConflictError] },
    args: { input: t.arg({ type: RecordConversionInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      recordConversion(
        ctx.viewer.tenantId,
        {
          recipientId: input.recipientId === null || input.recipientId === undefined ? null : String(input.recipientId),
          campaignId: input.campaignId?.id ?? null,
          phone: input.phone ?? null,
          value: input.value ?? null,
          occurredAt: input.occurredAt ?? null,
          externalId: input.externalId ?? null,
        },
        `api-key:${ctx.viewer.apiKeyId}`,
      ),
  }),
}));
