import { z } from 'zod';
import { prisma } from '../../infra/db/client.js';
import { ENGAGEMENT_METRICS, FIELD_OPERATORS, parseStoredRules, type SegmentRules, segmentRulesSchema } from '../../domain/segment-rules.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../domain/errors.js';
import { isUuid, NO_ID } from '../../infra/lib/uuid.js';
import { createSegment, deleteSegment, ensurePredefinedSegments, previewRules, updateSegment } from '../../features/segments/service.js';
import { builder } from './builder.js';
import { ContactRef } from './contact.js';
import { OrderDirectionEnum, parseWith } from './shared.js';

// ───────────── rules: input and output mirror the typed rule document (src/domain/segment-rules.ts) ─────────────

export const FieldOperatorEnum = builder.enumType('FieldOperator', {
  description: 'eq / neq (neq also matches contacts without the field), gt / gte / lt / lte (numbers, or text such as ISO dates), contains (text), in (a list), exists / not_exists.',
  values: FIELD_OPERATORS.map((o) => o.toUpperCase()) as unknown as readonly string[],
});
export const EngagementMetricEnum = builder.enumType('EngagementMetric', { values: ENGAGEMENT_METRICS });
const CountOperatorEnum = builder.enumType('CountOperator', { values: ['GTE', 'LTE', 'EQ'] as const });

const TagRulesInput = builder.inputType('TagRulesInput', {
  fields: (t) => ({
    any: t.stringList({ description: 'At least one of these tags.' }),
    all: t.stringList({ description: 'Every one of these tags.' }),
    none: t.stringList({ description: 'None of these tags.' }),
  }),
});

const CustomFieldConditionInput = builder.inputType('CustomFieldConditionInput', {
  fields: (t) => ({
    field: t.string({ required: true }),
    op: t.field({ type: FieldOperatorEnum, required: true }),
    value: t.field({ type: 'JSON', description: 'A string, number or boolean; a list for IN; nothing for EXISTS / NOT_EXISTS.' }),
  }),
});

const LastInteractionInput = builder.inputType('LastInteractionInput', {
  description: "Conditions on the contact's last interaction (its last reply).",
  fields: (t) => ({
    before: t.field({ type: 'DateTime' }),
    after: t.field({ type: 'DateTime' }),
    withinDays: t.int({ description: 'Interacted in the last N days.' }),
    notWithinDays: t.int({ description: 'Did not interact in the last N days (or never).' }),
  }),
});

const EngagementConditionInput = builder.inputType('EngagementConditionInput', {
  description: 'How many campaign messages the contact was sent / had delivered / read / replied to / clicked.',
  fields: (t) => ({
    metric: t.field({ type: EngagementMetricEnum, required: true }),
    op: t.field({ type: CountOperatorEnum, required: true }),
    count: t.int({ required: true }),
    withinDays: t.int(),
  }),
});

export const SegmentRulesInput = builder.inputType('SegmentRulesInput', {
  description: 'Every condition given must hold. Opted-out, blocked and not-on-WhatsApp contacts are never an audience.',
  fields: (t) => ({
    tags: t.field({ type: TagRulesInput }),
    customFields: t.field({ type: [CustomFieldConditionInput] }),
    lastInteraction: t.field({ type: LastInteractionInput }),
    engagement: t.field({ type: [EngagementConditionInput] }),
    createdWithinDays: t.int({ description: 'Added in the last N days.' }),
  }),
});

/** GraphQL rules input → the typed rule document (operators are lower-case there), or a ValidationError under `path`. */
export function rulesFromInput(input: unknown, path: Array<string | number>): SegmentRules {
  const i = input as Record<string, unknown> & {
    customFields?: Array<{ op: string }> | null;
    engagement?: Array<{ op: string }> | null;
  };
  return parseWith(
    segmentRulesSchema,
    {
      ...i,
      customFields: i.customFields?.map((c) => ({ ...c, op: c.op.toLowerCase() })),
      engagement: i.engagement?.map((e) => ({ ...e, op: e.op.toLowerCase() })),
    },
    path,
  );
}

const TagRulesRef = builder.objectRef<NonNullable<SegmentRules['tags']>>('TagRules').implement({
  fields: (t) => ({
    any: t.stringList({ resolve: (r) => r.any ?? [] }),
    all: t.stringList({ resolve: (r) => r.all ?? [] }),
    none: t.stringList({ resolve: (r) => r.none ?? [] }),
  }),
});
const CustomFieldConditionRef = builder.objectRef<NonNullable<SegmentRules['customFields']>[number]>('CustomFieldCondition').implement({
  fields: (t) => ({
    field: t.exposeString('field'),
    op: t.string({ resolve: (c) => c.op.toUpperCase() }),
    value: t.field({ type: 'JSON', nullable: true, resolve: (c) => c.value ?? null }),
  }),
});
const LastInteractionRef = builder.objectRef<NonNullable<SegmentRules['lastInteraction']>>('LastInteraction').implement({
  fields: (t) => ({
    before: t.field({ type: 'DateTime', nullable: true, resolve: (l) => l.before ?? null }),
    after: t.field({ type: 'DateTime', nullable: true, resolve: (l) => l.after ?? null }),
    withinDays: t.int({ nullable: true, resolve: (l) => l.withinDays ?? null }),
    notWithinDays: t.int({ nullable: true, resolve: (l) => l.notWithinDays ?? null }),
  }),
});
const EngagementConditionRef = builder.objectRef<NonNullable<SegmentRules['engagement']>[number]>('EngagementCondition').implement({
  fields: (t) => ({
    metric: t.field({ type: EngagementMetricEnum, resolve: (e) => e.metric }),
    op: t.string({ resolve: (e) => e.op.toUpperCase() }),
    count: t.exposeInt('count'),
    withinDays: t.int({ nullable: true, resolve: (e) => e.withinDays ?? null }),
  }),
});

export const SegmentRulesRef = builder.objectRef<SegmentRules>('SegmentRules').implement({
  fields: (t) => ({
    tags: t.field({ type: TagRulesRef, nullable: true, resolve: (r) => r.tags ?? null }),
    customFields: t.field({ type: [CustomFieldConditionRef], resolve: (r) => r.customFields ?? [] }),
    lastInteraction: t.field({ type: LastInteractionRef, nullable: true, resolve: (r) => r.lastInteraction ?? null }),
    engagement: t.field({ type: [EngagementConditionRef], resolve: (r) => r.engagement ?? [] }),
    createdWithinDays: t.int({ nullable: true, resolve: (r) => r.createdWithinDays ?? null }),
  }),
});

// ───────────── segments ─────────────

export const SegmentRef = builder.prismaNode('Segment', {
  id: { field: 'id' },
  findUnique: (id, ctx) => ({ id: isUuid(id) ? id : NO_ID, tenantId: ctx.viewer.tenantId }),
  // Another tenant's id is simply not found: node(id) answers null.
  nullable: true,
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    predefined: t.boolean({ select: { systemKey: true }, resolve: (s) => s.systemKey !== null }),
    systemKey: t.exposeString('systemKey', { nullable: true, description: 'new_7d, engaged or inactive_30d for the predefined segments.' }),
    rules: t.field({ type: SegmentRulesRef, select: { rules: true }, resolve: (s) => parseStoredRules(s.rules) }),
    contactCount: t.int({
      description: 'Reachable contacts that match now (counted live; the counts of a page of segments take one query).',
      select: { id: true, rules: true },
      resolve: (s, _args, ctx) => ctx.loaders.segmentCount.load({ id: s.id, rules: s.rules }),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const SegmentOrderFieldEnum = builder.enumType('SegmentOrderField', { values: ['NAME', 'CREATED_AT'] as const });
const SegmentOrderInput = builder.inputType('SegmentOrder', {
  fields: (t) => ({
    field: t.field({ type: SegmentOrderFieldEnum, required: true }),
    direction: t.field({ type: OrderDirectionEnum, defaultValue: 'ASC' }),
  }),
});

const SegmentPreviewRef = builder.objectRef<{ count: number; sampleIds: string[] }>('SegmentPreview').implement({
  fields: (t) => ({
    count: t.exposeInt('count', { description: 'Reachable contacts that match.' }),
    sample: t.prismaField({
      type: [ContactRef],
      description: 'Up to `sampleSize` of them, newest first.',
      resolve: async (query, p) => {
        const rows = await prisma.contact.findMany({ ...query, where: { id: { in: p.sampleIds } } });
        const order = new Map(p.sampleIds.map((id, i) => [id, i]));
        return rows.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
      },
    }),
  }),
});

builder.queryFields((t) => ({
  segments: t.prismaConnection({
    type: SegmentRef,
    cursor: 'id',
    description: 'Saved segments of the tenant, the predefined ones included.',
    args: {
      search: t.arg.string({ description: 'Part of the name.' }),
      predefined: t.arg.boolean({ description: 'Only the predefined segments (true) or only the saved ones (false).' }),
      orderBy: t.arg({ type: SegmentOrderInput }),
    },
    resolve: async (query, _root, args, ctx) => {
      await ensurePredefinedSegments(ctx.viewer.tenantId);
      const dir = (args.orderBy?.direction ?? 'ASC').toLowerCase() as 'asc' | 'desc';
      return prisma.segment.findMany({
        ...query,
        where: {
          tenantId: ctx.viewer.tenantId,
          ...(args.search ? { name: { contains: args.search, mode: 'insensitive' } } : {}),
          ...(typeof args.predefined === 'boolean' ? { systemKey: args.predefined ? { not: null } : null } : {}),
        },
        orderBy: [args.orderBy?.field === 'CREATED_AT' ? { createdAt: dir } : { name: dir }, { id: dir }],
      });
    },
  }),
  segmentPreview: t.field({
    type: SegmentPreviewRef,
    description: 'How many reachable contacts these rules select, and a sample, without saving anything.',
    errors: { types: [ValidationError] },
    args: {
      rules: t.arg({ type: SegmentRulesInput, required: true }),
      sampleSize: t.arg.int({ defaultValue: 10, validate: z.number().int().min(0).max(100) }),
    },
    resolve: (_root, args, ctx) => previewRules(ctx.viewer.tenantId, rulesFromInput(args.rules, ['rules']), args.sampleSize ?? 10),
  }),
}));

const segmentName = z.string().trim().min(1, 'a segment needs a name').max(100, 'a segment name has at most 100 characters');
const segmentDescription = z.string().max(1000, 'a description has at most 1000 characters');

const CreateSegmentInput = builder.inputType('CreateSegmentInput', {
  fields: (t) => ({
    name: t.string({ required: true, validate: segmentName }),
    description: t.string({ validate: segmentDescription }),
    rules: t.field({ type: SegmentRulesInput, required: true }),
  }),
});
const UpdateSegmentInput = builder.inputType('UpdateSegmentInput', {
  description: 'Only the fields given change.',
  fields: (t) => ({
    name: t.string({ validate: segmentName }),
    description: t.string({ validate: segmentDescription }),
    rules: t.field({ type: SegmentRulesInput }),
  }),
});

builder.mutationFields((t) => ({
  createSegment: t.field({
    type: SegmentRef,
    authScopes: { operator: true },
    errors: { types: [ValidationError, ForbiddenError, ConflictError] },
    args: { input: t.arg({ type: CreateSegmentInput, required: true }) },
    resolve: (_root, { input }, ctx) => {
      return createSegment(ctx.viewer.tenantId, { name: input.name.trim(), description: input.description, rules: rulesFromInput(input.rules, ['input', 'rules']) });
    },
  }),
  updateSegment: t.field({
    type: SegmentRef,
    authScopes: { operator: true },
    errors: { types: [ValidationError, ForbiddenError, ConflictError, NotFoundError] },
    args: { id: t.arg.globalID({ required: true, for: SegmentRef }), input: t.arg({ type: UpdateSegmentInput, required: true }) },
    resolve: (_root, { id, input }, ctx) =>
      updateSegment(ctx.viewer.tenantId, id.id, { name: input.name?.trim(), description: input.description, rules: input.rules ? rulesFromInput(input.rules, ['input', 'rules']) : null }),
  }),
  deleteSegment: t.globalID({
    description: 'Deletes a segment no unfinished campaign targets; returns its id.',
    authScopes: { operator: true },
    errors: { types: [ValidationError, ForbiddenError, ConflictError, NotFoundError] },
    args: { id: t.arg.globalID({ required: true, for: SegmentRef }) },
    resolve: async (_root, { id }, ctx) => ({ type: 'Segment', id: await deleteSegment(ctx.viewer.tenantId, id.id) }),
  }),
}));
