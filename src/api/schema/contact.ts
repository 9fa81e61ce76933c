import { resolveOffsetConnection } from '@pothos/plugin-relay';
import { z } from 'zod';
import { importContacts } from '../../features/contacts/import.js';
import {
  countContacts,
  deleteContacts,
  type RowResult,
  searchContacts,
  setContactFlag,
  tagContacts,
  tenantRegion,
  upsertContact,
} from '../../features/contacts/service.js';
import { tagSchema, upsertContactRows } from '../../features/contacts/upsert.js';
import { prisma } from '../../infra/db/client.js';
import { normalizePhone } from '../../domain/phone.js';
import { customFieldConditionSchema } from '../../domain/segment-rules.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../domain/errors.js';
import { isUuid, NO_ID } from '../../infra/lib/uuid.js';
import { jobId } from '../../infra/queues/definitions.js';
import { enqueue } from '../../infra/queues/index.js';
import { channel } from '../../infra/realtime/pubsub.js';
import { channelStream } from '../../infra/realtime/stream.js';
import type { ImportProgressEvent } from '../../infra/realtime/topics.js';
import type { ConsentSource } from '../../generated/prisma/client.js';
import { builder } from './builder.js';
import { OrderDirectionEnum, parseWith, reloadQuery } from './shared.js';

export const ConsentSourceEnum = builder.enumType('ConsentSource', {
  values: {
    IMPORT: { description: 'A column of a contact import (optIn / optOut).' },
    API: { description: 'optInContacts / optOutContacts, or a contact written through the API with optIn.' },
    KEYWORD: { description: "A message from the contact that is exactly one of the tenant's opt-in or opt-out keywords." },
  } as const,
});

const ConsentStatusEnum = builder.enumType('ConsentStatus', {
  values: {
    OPTED_IN: { description: 'Opted in (and not out since).' },
    OPTED_OUT: { description: 'Opted out: never sent.' },
    UNKNOWN: { description: 'Neither: sent unless the tenant requires opt-in.' },
  } as const,
});

const ConsentRef = builder
  .objectRef<{
    status: 'OPTED_IN' | 'OPTED_OUT' | 'UNKNOWN';
    optedInAt: Date | null;
    optInSource: ConsentSource | null;
    optedOutAt: Date | null;
    optOutSource: ConsentSource | null;
  }>('Consent')
  .implement({
    fields: (t) => ({
      status: t.expose('status', { type: ConsentStatusEnum }),
      optedInAt: t.expose('optedInAt', { type: 'DateTime', nullable: true }),
      optInSource: t.expose('optInSource', { type: ConsentSourceEnum, nullable: true }),
      optedOutAt: t.expose('optedOutAt', { type: 'DateTime', nullable: true }),
      optOutSource: t.expose('optOutSource', { type: ConsentSourceEnum, nullable: true }),
    }),
  });

builder.prismaObject('ConsentEvent', {
  description: 'One opt-in or opt-out of a contact.',
  fields: (t) => ({
    kind: t.expose('kind', { type: builder.enumType('ConsentKind', { values: ['OPT_IN', 'OPT_OUT'] as const }) }),
    source: t.expose('source', { type: ConsentSourceEnum }),
    detail: t.expose('detail', { type: 'JSON', description: 'Who or what: the API key, the import, the keyword and the reply.' }),
    at: t.expose('at', { type: 'DateTime' }),
  }),
});

export const ContactRef = builder.prismaNode('Contact', {
  id: { field: 'id' },
  // Select mode: only the columns the query's fields need are loaded.
  select: { id: true },
  findUnique: (id, ctx) => ({ id: isUuid(id) ? id : NO_ID, tenantId: ctx.viewer.tenantId }),
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
    optedOutAt: t.expose('optedOutAt', { type: 'DateTime', nullable: true }),
    consent: t.field({
      type: ConsentRef,
      description: "The contact's standing consent; consentHistory has every change.",
      select: { optedOut: true, optedOutAt: true, optOutSource: true, optedInAt: true, optInSource: true },
      resolve: (c) => ({ ...c, status: c.optedOut ? ('OPTED_OUT' as const) : c.optedInAt ? ('OPTED_IN' as const) : ('UNKNOWN' as const) }),
    }),
    consentHistory: t.relation('consent', {
      description: 'Every opt-in and opt-out of the contact, newest first, with its source.',
      args: { first: t.arg.int({ defaultValue: 50, validate: z.number().int().min(1).max(500) }) },
      query: (args) => ({ orderBy: [{ at: 'desc' }, { id: 'desc' }], take: args.first ?? 50 }),
    }),
    blocked: t.exposeBoolean('blocked'),
    notOnWhatsapp: t.exposeBoolean('notOnWhatsapp', { description: 'Evolution answered exists:false for this number; it is skipped by campaigns.' }),
    lastInteractionAt: t.expose('lastInteractionAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
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
    phone: t.string({ required: true, description: "Any format; normalised to E.164, in the tenant's country when it has no country code." }),
    name: t.string(),
    email: t.string(),
    tags: t.stringList(),
    customFields: t.field({ type: 'JSON', description: 'An object of custom fields (names are letters, digits and _).' }),
    timezone: t.string({ description: 'IANA time zone, e.g. America/Manaus; the tenant\'s when absent.' }),
    referredBy: t.string({ description: 'Who referred the contact ({{quem_indicou}}).' }),
    optIn: t.boolean({ description: 'The contact gave its consent: true records an opt-in (source API); false or absent changes nothing.' }),
  }),
});

const ContactsRefInput = builder.inputType('ContactSelection', {
  description: "Contacts by id, by phone, or both (at most 10,000). A contact that does not exist in the tenant makes the whole change a NotFoundError.",
  fields: (t) => ({
    ids: t.globalIDList({ for: ContactRef, validate: z.array(z.unknown()).max(10_000) }),
    phones: t.stringList({ validate: z.array(z.string()).max(10_000) }),
  }),
});

const ContactOrderFieldEnum = builder.enumType('ContactOrderField', { values: ['CREATED_AT', 'NAME', 'PHONE', 'LAST_INTERACTION_AT'] as const });
const ContactOrderInput = builder.inputType('ContactOrder', {
  fields: (t) => ({
    field: t.field({ type: ContactOrderFieldEnum, required: true }),
    direction: t.field({ type: OrderDirectionEnum, defaultValue: 'ASC' }),
  }),
});

const CustomFieldFilterInput = builder.inputType('CustomFieldFilter', {
  fields: (t) => ({ field: t.string({ required: true }), value: t.field({ type: 'JSON', required: true }) }),
});

const ContactFilterInput = builder.inputType('ContactFilter', {
  fields: (t) => ({
    search: t.string({ description: 'Part of the name, email or phone.' }),
    tags: t.stringList({ description: 'Any of these tags.' }),
    tagsAll: t.stringList({ description: 'All of these tags.' }),
    customField: t.field({ type: CustomFieldFilterInput, description: 'A custom field equal to a value.' }),
    optedOut: t.boolean(),
    blocked: t.boolean(),
    notOnWhatsapp: t.boolean(),
    createdAfter: t.field({ type: 'DateTime' }),
    createdBefore: t.field({ type: 'DateTime' }),
    segmentId: t.globalID({ description: 'Contacts a saved segment selects (reachable or not).' }),
  }),
});

function toFilter(f: typeof ContactFilterInput.$inferInput | null | undefined) {
  if (!f) return null;
  const condition = f.customField
    ? parseWith(customFieldConditionSchema, { field: f.customField.field, op: 'eq', value: f.customField.value }, ['filter', 'customField'])
    : null;
  return { ...f, segmentId: f.segmentId?.id ?? null, rules: condition ? { customFields: [condition] } : null };
}

builder.queryFields((t) => ({
  contacts: t.connection({
    type: ContactRef,
    description: 'Contacts of the tenant, filtered and ordered.',
    args: { filter: t.arg({ type: ContactFilterInput }), orderBy: t.arg({ type: ContactOrderInput }) },
    resolve: async (_root, args, ctx) => {
      const filter = toFilter(args.filter);
      const order = { field: args.orderBy?.field ?? 'CREATED_AT', direction: args.orderBy?.direction ?? 'ASC' } as const;
      const connection = await resolveOffsetConnection({ args, defaultSize: 50, maxSize: 500 }, ({ limit, offset }) =>
        searchContacts(ctx.viewer.tenantId, filter, order, { limit, offset }),
      );
      return { ...connection, filter, tenantId: ctx.viewer.tenantId };
    },
  }, {
    fields: (c) => ({
      totalCount: c.int({
        description: 'Contacts matching the filter (one count query, only when asked).',
        resolve: (conn) => countContacts((conn as unknown as { tenantId: string }).tenantId, (conn as unknown as { filter: ReturnType<typeof toFilter> }).filter),
      }),
    }),
  }),
  contactByPhone: t.prismaField({
    type: ContactRef,
    nullable: true,
    args: { phone: t.arg.string({ required: true }) },
    resolve: async (query, _root, { phone }, ctx) => {
      const selection = { ...query }; // taken whichever branch runs (an unusable phone matches nobody)
      const n = normalizePhone(phone, await tenantRegion(ctx.viewer.tenantId));
      return n.ok ? prisma.contact.findFirst({ ...selection, where: { tenantId: ctx.viewer.tenantId, phone: n.e164 } }) : null;
    },
  }),
}));

const UpsertContactPayload = builder.objectRef<{ contact: { id: string }; status: string }>('UpsertContactPayload').implement({
  fields: (t) => ({
    contact: t.prismaField({ type: ContactRef, resolve: (query, p) => prisma.contact.findUniqueOrThrow({ ...reloadQuery(query), where: { id: p.contact.id } }) }),
    status: t.field({ type: RowStatusEnum, resolve: (p) => p.status as RowResult['status'] }),
  }),
});

const ContactsChangedRef = builder.objectRef<{ matched: number; changed: number; skippedRecipients?: number; ids: string[] }>('ContactsChanged').implement({
  fields: (t) => ({
    matched: t.exposeInt('matched', { description: 'Contacts selected.' }),
    changed: t.exposeInt('changed', { description: 'Contacts whose data actually changed.' }),
    skippedRecipients: t.int({ description: 'Waiting campaign recipients skipped because of this change.', resolve: (r) => r.skippedRecipients ?? 0 }),
    contactIds: t.globalIDList({ resolve: (r) => r.ids.map((id) => ({ type: 'Contact', id })) }),
  }),
});

const tagList = z.array(tagSchema).min(1, 'give at least one tag').max(50);
const extraTags = z.array(tagSchema).max(50);
const selection = (s: typeof ContactsRefInput.$inferInput) => ({ ids: s.ids?.map((g) => g.id), phones: s.phones });
const actorOf = (ctx: { viewer: { apiKeyId: string } }) => `api-key:${ctx.viewer.apiKeyId}`;
const WRITE_ERRORS = [ValidationError, ForbiddenError] as const;
/** Mutations on selected contacts: an unknown (or another tenant's) contact is not found. */
const CONTACT_ERRORS = [...WRITE_ERRORS, NotFoundError] as const;

builder.mutationFields((t) => ({
  upsertContact: t.field({
    type: UpsertContactPayload,
    description: 'Creates a contact, or merges into the one with the same phone.',
    authScopes: { operator: true },
    errors: { types: [...WRITE_ERRORS] },
    args: { input: t.arg({ type: ContactInput, required: true }), strategy: t.arg({ type: MergeStrategyEnum, defaultValue: 'UPDATE' }) },
    resolve: (_root, { input, strategy }, ctx) => upsertContact(ctx.viewer.tenantId, input, strategy ?? 'UPDATE', actorOf(ctx)),
  }),
  addContacts: t.field({
    type: ContactBatchResultRef,
    description: 'Creates or updates contacts by phone. Every row is reported; an invalid row never stops the others.',
    authScopes: { operator: true },
    errors: { types: [...WRITE_ERRORS] },
    args: {
      contacts: t.arg({ type: [ContactInput], required: true, validate: z.array(z.unknown()).min(1).max(10_000) }),
      strategy: t.arg({ type: MergeStrategyEnum, defaultValue: 'UPDATE' }),
      tags: t.arg.stringList({ description: 'Tags added to every contact of the batch.', validate: extraTags }),
    },
    resolve: async (_root, { contacts, strategy, tags }, ctx) => {
      const rows = await upsertContactRows(
        ctx.viewer.tenantId,
        contacts.map((input, i) => ({ row: i + 1, input })),
        { strategy: strategy ?? 'UPDATE', region: await tenantRegion(ctx.viewer.tenantId), addTags: tags ?? [], consent: { source: 'API', detail: { actor: actorOf(ctx) } } },
      );
      return summarise(rows);
    },
  }),
  deleteContacts: t.field({
    type: ContactsChangedRef,
    description:
      'Deletes contacts with their campaign history; counters of their campaigns lose what was deleted. A contact being sent to at this moment is a ConflictError (retry).',
    authScopes: { operator: true },
    errors: { types: [...CONTACT_ERRORS, ConflictError] },
    args: { contacts: t.arg({ type: ContactsRefInput, required: true }) },
    resolve: async (_root, { contacts }, ctx) => {
      const r = await deleteContacts(ctx.viewer.tenantId, selection(contacts), actorOf(ctx));
      return { matched: r.ids.length, changed: r.deleted, ids: r.ids };
    },
  }),
  tagContacts: t.field({
    type: ContactsChangedRef,
    authScopes: { operator: true },
    errors: { types: [...CONTACT_ERRORS] },
    args: { contacts: t.arg({ type: ContactsRefInput, required: true }), tags: t.arg.stringList({ required: true, validate: tagList }) },
    resolve: (_root, { contacts, tags }, ctx) => tagContacts(ctx.viewer.tenantId, selection(contacts), tags),
  }),
  untagContacts: t.field({
    type: ContactsChangedRef,
    authScopes: { operator: true },
    errors: { types: [...CONTACT_ERRORS] },
    args: { contacts: t.arg({ type: ContactsRefInput, required: true }), tags: t.arg.stringList({ required: true, validate: tagList }) },
    resolve: (_root, { contacts, tags }, ctx) => tagContacts(ctx.viewer.tenantId, selection(contacts), tags, true),
  }),
  optOutContacts: t.field({
    type: ContactsChangedRef,
    description: 'The contacts never receive again; their waiting recipients and follow-ups are cancelled.',
    authScopes: { operator: true },
    errors: { types: [...CONTACT_ERRORS] },
    args: { contacts: t.arg({ type: ContactsRefInput, required: true }) },
    resolve: (_root, { contacts }, ctx) => setContactFlag(ctx.viewer.tenantId, selection(contacts), 'optOut', actorOf(ctx)),
  }),
  optInContacts: t.field({
    type: ContactsChangedRef,
    authScopes: { operator: true },
    errors: { types: [...CONTACT_ERRORS] },
    args: { contacts: t.arg({ type: ContactsRefInput, required: true }) },
    resolve: (_root, { contacts }, ctx) => setContactFlag(ctx.viewer.tenantId, selection(contacts), 'optIn', actorOf(ctx)),
  }),
  blockContacts: t.field({
    type: ContactsChangedRef,
    authScopes: { operator: true },
    errors: { types: [...CONTACT_ERRORS] },
    args: { contacts: t.arg({ type: ContactsRefInput, required: true }) },
    resolve: (_root, { contacts }, ctx) => setContactFlag(ctx.viewer.tenantId, selection(contacts), 'block', actorOf(ctx)),
  }),
  unblockContacts: t.field({
    type: ContactsChangedRef,
    authScopes: { operator: true },
    errors: { types: [...CONTACT_ERRORS] },
    args: { contacts: t.arg({ type: ContactsRefInput, required: true }) },
    resolve: (_root, { contacts }, ctx) => setContactFlag(ctx.viewer.tenantId, selection(contacts), 'unblock', actorOf(ctx)),
  }),
}));

// ───────────── imports ─────────────

const ImportStatusEnum = builder.enumType('ImportStatus', { values: ['PENDING', 'RUNNING', 'COMPLETED', 'FAILED'] as const });
const ImportFormatEnum = builder.enumType('ImportFormat', { values: ['CSV', 'JSON'] as const });

const ImportFailureRef = builder.objectRef<{ row: number; phone: string | null; field: string | null; reason: string | null; input: string | null }>('ImportFailure').implement({
  fields: (t) => ({
    row: t.exposeInt('row', { description: 'JSON: the item, from 1. CSV: the data row, from 1 (the header is not counted; blank lines are, so row N is line N + 1 of a file with a one-line header).' }),
    field: t.exposeString('field', { nullable: true }),
    reason: t.exposeString('reason', { nullable: true }),
    input: t.exposeString('input', { nullable: true }),
  }),
});

export const ContactImportRef = builder.prismaNode('ContactImport', {
  id: { field: 'id' },
  findUnique: (id, ctx) => ({ id: isUuid(id) ? id : NO_ID, tenantId: ctx.viewer.tenantId }),
  nullable: true,
  fields: (t) => ({
    status: t.field({ type: ImportStatusEnum, resolve: (i) => i.status }),
    format: t.field({ type: ImportFormatEnum, resolve: (i) => i.format as 'CSV' | 'JSON' }),
    strategy: t.field({ type: MergeStrategyEnum, resolve: (i) => i.strategy }),
    idempotencyKey: t.exposeString('idempotencyKey', { nullable: true }),
    totalRows: t.exposeInt('totalRows'),
    processedRows: t.exposeInt('processedRows'),
    created: t.exposeInt('createdCount'),
    updated: t.exposeInt('updatedCount'),
    skipped: t.exposeInt('skippedCount'),
    failed: t.exposeInt('failedCount'),
    percentDone: t.float({ select: { totalRows: true, processedRows: true }, resolve: (i) => (i.totalRows ? Math.round((i.processedRows / i.totalRows) * 10000) / 100 : 100) }),
    failures: t.field({
      type: [ImportFailureRef],
      description: 'Failed rows with their reason (the first 10,000 are kept).',
      args: {
        first: t.arg.int({ defaultValue: 100, validate: z.number().int().min(0).max(1000) }),
        offset: t.arg.int({ defaultValue: 0, validate: z.number().int().min(0) }),
      },
      select: { failures: true },
      resolve: (i, args) => ((i.failures ?? []) as Array<{ row: number; phone: string | null; field: string | null; reason: string | null; input: string | null }>).slice(args.offset ?? 0, (args.offset ?? 0) + (args.first ?? 100)),
    }),
    error: t.exposeString('error', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
  }),
});

const ColumnMappingInput = builder.inputType('CsvColumnMapping', {
  description: 'Header names of the CSV columns. Unmapped columns become custom fields (their names normalised).',
  fields: (t) => ({
    phone: t.string(),
    name: t.string(),
    email: t.string(),
    tags: t.string({ description: 'A column of tags separated by , ; or |.' }),
    timezone: t.string(),
    referredBy: t.string(),
    optIn: t.string({ description: 'A yes/no column (yes, sim, true, 1, x / no, não, false, 0): yes records an opt-in, source IMPORT.' }),
    customFields: t.field({ type: [builder.inputType('CsvCustomFieldColumn', { fields: (f) => ({ column: f.string({ required: true }), field: f.string({ required: true }) }) })] }),
  }),
});

const ImportContactsInput = builder.inputType('ImportContactsInput', {
  fields: (t) => ({
    format: t.field({ type: ImportFormatEnum, required: true }),
    data: t.string({ required: true, description: 'The CSV text (with a header row) or a JSON array of contacts.', validate: z.string().min(1).max(50 * 1024 * 1024) }),
    strategy: t.field({ type: MergeStrategyEnum, defaultValue: 'UPDATE' }),
    tags: t.stringList({ description: 'Tags added to every imported contact.', validate: extraTags }),
    groupTag: t.string({ description: 'One more tag naming this import\'s group of contacts.', validate: tagSchema }),
    columns: t.field({ type: ColumnMappingInput }),
    delimiter: t.string({ validate: z.string().length(1) }),
    idempotencyKey: t.string({ description: 'Retrying with the same key returns the first import instead of importing again.', validate: z.string().min(1).max(200) }),
  }),
});

const ContactImportOrderFieldEnum = builder.enumType('ContactImportOrderField', { values: ['CREATED_AT'] as const });
const ContactImportOrderInput = builder.inputType('ContactImportOrder', {
  fields: (t) => ({
    field: t.field({ type: ContactImportOrderFieldEnum, required: true }),
    direction: t.field({ type: OrderDirectionEnum, defaultValue: 'DESC' }),
  }),
});

builder.queryFields((t) => ({
  contactImports: t.prismaConnection({
    type: ContactImportRef,
    cursor: 'id',
    description: 'Imports of the tenant, newest first unless ordered otherwise.',
    args: { status: t.arg({ type: [ImportStatusEnum], description: 'Only imports in one of these states.' }), orderBy: t.arg({ type: ContactImportOrderInput }) },
    resolve: (query, _root, args, ctx) => {
      const dir = (args.orderBy?.direction ?? 'DESC') === 'DESC' ? 'desc' : 'asc';
      return prisma.contactImport.findMany({
        ...query,
        where: { tenantId: ctx.viewer.tenantId, ...(args.status?.length ? { status: { in: args.status } } : {}) },
        orderBy: [{ createdAt: dir }, { id: dir }],
      });
    },
  }),
}));

builder.mutationField('importContacts', (t) =>
  t.field({
    type: ContactImportRef,
    description: `Imports contacts from CSV or JSON. Up to 2,000 rows the import is finished when this returns; larger inputs run in the background (follow importProgress).`,
    authScopes: { operator: true },
    errors: { types: [ValidationError, ForbiddenError, ConflictError] },
    args: { input: t.arg({ type: ImportContactsInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      importContacts(ctx.viewer.tenantId, input, async (importId) => {
        await enqueue('imports', 'contacts:import', { tenantId: ctx.viewer.tenantId, importId }, { jobId: jobId('import', importId) });
      }),
  }),
);

builder.subscriptionField('importProgress', (t) =>
  t.prismaField({
    type: ContactImportRef,
    description: 'The import as it progresses: its current state at once, then after every chunk, and when it ends.',
    args: { importId: t.arg.globalID({ required: true, for: ContactImportRef }) },
    subscribe: async (_root, { importId }, ctx) => {
      const tenantId = ctx.viewer.tenantId;
      const id = isUuid(importId.id) ? importId.id : NO_ID;
      const state = () => prisma.contactImport.findFirst({ where: { id, tenantId }, select: { id: true, status: true } });
      if (!(await state())) throw new NotFoundError('ContactImport', importId.id);
      return channelStream<ImportProgressEvent, { id: string; status: string }>(
        channel('import:progress', tenantId, id),
        async () => (await state()) ?? { id, status: 'FAILED' },
        async () => (await state()) ?? { id, status: 'FAILED' },
        (s) => s.status === 'COMPLETED' || s.status === 'FAILED',
      );
    },
    resolve: (query, event: { id: string }, _args, ctx) =>
      prisma.contactImport.findFirstOrThrow({ ...query, where: { id: event.id, tenantId: ctx.viewer.tenantId } }),
  }),
);
