import { z } from 'zod';
import { type RowResult, upsertContactRows } from '../contacts/upsert.js';
import { prisma } from '../db/client.js';
import { ForbiddenError, ValidationError } from '../errors.js';
import { builder } from './builder.js';

export const ContactRef = builder.prismaNode('Contact', {
  id: { field: 'id' },
  findUnique: (id, ctx) => ({ id, tenantId: ctx.viewer.tenantId }),
  // Another tenant's id is simply not found: node(id) answers null.
  nullable: true,
  fields: (t) => ({
    phone: t.exposeString('phone', { description: 'E.164.' }),
    name: t.exposeString('name', { nullable: true }),
    email: t.exposeString('email', { nullable: true }),
    tags: t.exposeStringList('tags'),
    customFields: t.expose('customFields', { type: 'JSON' }),
    timezone: t.exposeString('timezone', { nullable: true }),
    referredBy: t.exposeString('referredBy', { nullable: true }),
    optedOut: t.exposeBoolean('optedOut'),
    blocked: t.exposeBoolean('blocked'),
    notOnWhatsapp: t.exposeBoolean('notOnWhatsapp'),
    lastInteractionAt: t.expose('lastInteractionAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const MergeStrategyEnum = builder.enumType('MergeStrategy', {
  values: {
    SKIP: { description: 'Leave an existing contact as it is.' },
    UPDATE: { description: 'Overwrite the given fields, add tags, merge custom fields.' },
    REPLACE: { description: 'Make the contact exactly the given row.' },
  },
});

export const RowStatusEnum = builder.enumType('ContactRowStatus', { values: ['CREATED', 'UPDATED', 'SKIPPED', 'FAILED'] as const });

export const ContactRowResultRef = builder.objectRef<RowResult>('ContactRowResult').implement({
  description: 'What happened to one input row; failed rows say which field, why, and what was given.',
  fields: (t) => ({
    row: t.exposeInt('row'),
    status: t.field({ type: RowStatusEnum, resolve: (r) => r.status }),
    contactId: t.globalID({ nullable: true, resolve: (r) => (r.contactId ? { type: 'Contact', id: r.contactId } : null) }),
    phone: t.exposeString('phone', { nullable: true }),
    field: t.exposeString('field', { nullable: true }),
    reason: t.exposeString('reason', { nullable: true }),
    input: t.exposeString('input', { nullable: true }),
  }),
});

export interface ContactBatchResult {
  created: number;
  updated: number;
  skipped: number;
  failed: number;
  rows: RowResult[];
}

export const ContactBatchResultRef = builder.objectRef<ContactBatchResult>('ContactBatchResult').implement({
  fields: (t) => ({
    created: t.exposeInt('created'),
    updated: t.exposeInt('updated'),
    skipped: t.exposeInt('skipped'),
    failed: t.exposeInt('failed'),
    rows: t.field({ type: [ContactRowResultRef], resolve: (r) => r.rows }),
  }),
});

export function summarise(rows: RowResult[]): ContactBatchResult {
  const count = (s: RowResult['status']) => rows.filter((r) => r.status === s).length;
  return { created: count('CREATED'), updated: count('UPDATED'), skipped: count('SKIPPED'), failed: count('FAILED'), rows };
}

export const ContactInput = builder.inputType('ContactInput', {
  fields: (t) => ({
    phone: t.string({ required: true, description: 'Any format; normalised to E.164 in the tenant\'s country when it has no country code.' }),
    name: t.string(),
    email: t.string(),
    tags: t.stringList(),
    customFields: t.field({ type: 'JSON' }),
    timezone: t.string(),
    referredBy: t.string(),
  }),
});

builder.queryField('contacts', (t) =>
  t.prismaConnection({
    type: ContactRef,
    cursor: 'id',
    args: { tag: t.arg.string() },
    resolve: (query, _root, args, ctx) =>
      prisma.contact.findMany({
        ...query,
        where: { tenantId: ctx.viewer.tenantId, ...(args.tag ? { tags: { has: args.tag } } : {}) },
        orderBy: { createdAt: 'asc' },
      }),
  }),
);

builder.mutationField('addContacts', (t) =>
  t.field({
    type: ContactBatchResultRef,
    description: 'Creates or updates contacts by phone. Every row is reported; an invalid row never stops the others.',
    authScopes: { operator: true },
    errors: { types: [ValidationError, ForbiddenError] },
    args: {
      contacts: t.arg({ type: [ContactInput], required: true, validate: z.array(z.unknown()).min(1).max(10_000) }),
      strategy: t.arg({ type: MergeStrategyEnum, defaultValue: 'UPDATE' }),
    },
    resolve: async (_root, { contacts, strategy }, ctx) => {
      const tenant = await prisma.tenant.findUniqueOrThrow({ where: { id: ctx.viewer.tenantId }, select: { country: true } });
      const rows = await upsertContactRows(
        ctx.viewer.tenantId,
        contacts.map((input, i) => ({ row: i + 1, input })),
        { strategy: strategy ?? 'UPDATE', region: tenant.country },
      );
      return summarise(rows);
    },
  }),
);
