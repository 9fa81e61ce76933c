import { z } from 'zod';

/**
 * The typed rule document of a segment (and of a campaign audience given as rules). Every condition
 * present must hold (AND). Opted-out, blocked and not-on-WhatsApp contacts are never an audience,
 * whatever the rules say; that is added where rules become SQL, not here.
 */
const tag = z.string().trim().min(1).max(64);
const fieldName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'custom field names are letters, digits and _');
const scalar = z.union([z.string(), z.number(), z.boolean()]);

export const FIELD_OPERATORS = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'contains', 'in', 'exists', 'not_exists'] as const;
export type FieldOperator = (typeof FIELD_OPERATORS)[number];

export const customFieldConditionSchema = z
  .object({
    field: fieldName,
    op: z.enum(FIELD_OPERATORS),
    value: z.union([scalar, z.array(scalar)]).nullish(),
  })
  .superRefine((c, ctx) => {
    const issue = (message: string) => ctx.addIssue({ code: 'custom', path: ['value'], message });
    if (c.op === 'exists' || c.op === 'not_exists') {
      if (c.value !== undefined && c.value !== null) issue(`${c.op} takes no value`);
    } else if (c.op === 'in') {
      if (!Array.isArray(c.value) || c.value.length === 0) issue('in takes a non-empty list of values');
    } else if (c.value === undefined || c.value === null || Array.isArray(c.value)) {
      issue(`${c.op} takes one value`);
    } else if (['gt', 'gte', 'lt', 'lte'].includes(c.op) && typeof c.value === 'boolean') {
      issue(`${c.op} compares numbers or text (ISO dates compare as text)`);
    } else if (c.op === 'contains' && typeof c.value !== 'string') {
      issue('contains takes text');
    }
  });

export const ENGAGEMENT_METRICS = ['SENT', 'DELIVERED', 'READ', 'REPLIED', 'CLICKED'] as const;
export type EngagementMetric = (typeof ENGAGEMENT_METRICS)[number];

export const engagementConditionSchema = z.object({
  metric: z.enum(ENGAGEMENT_METRICS),
  op: z.enum(['gte', 'lte', 'eq']),
  count: z.number().int().min(0).max(10_000),
  withinDays: z.number().int().min(1).max(3650).nullish(),
});

export const lastInteractionSchema = z
  .object({
    before: z.coerce.date().nullish(),
    after: z.coerce.date().nullish(),
    withinDays: z.number().int().min(1).max(3650).nullish(),
    notWithinDays: z.number().int().min(1).max(3650).nullish(),
  })
  .refine((l) => l.before || l.after || l.withinDays || l.notWithinDays, { message: 'give before, after, withinDays or notWithinDays' })
  .refine((l) => !(l.before && l.after && l.before <= l.after), { message: 'before must be later than after' });

export const segmentRulesSchema = z
  .object({
    tags: z
      .object({ any: z.array(tag).max(100).nullish(), all: z.array(tag).max(100).nullish(), none: z.array(tag).max(100).nullish() })
      .nullish(),
    customFields: z.array(customFieldConditionSchema).max(20).nullish(),
    lastInteraction: lastInteractionSchema.nullish(),
    engagement: z.array(engagementConditionSchema).max(10).nullish(),
    createdWithinDays: z.number().int().min(1).max(3650).nullish(),
  })
  .strict();

export type SegmentRules = z.infer<typeof segmentRulesSchema>;

/** The segments every tenant gets. */
export const PREDEFINED_SEGMENTS: Array<{ key: string; name: string; description: string; rules: SegmentRules }> = [
  { key: 'new_7d', name: 'New in the last 7 days', description: 'Contacts added in the last 7 days.', rules: { createdWithinDays: 7 } },
  {
    key: 'engaged',
    name: 'Engaged',
    description: 'Read at least one message in the last 30 days.',
    rules: { engagement: [{ metric: 'READ', op: 'gte', count: 1, withinDays: 30 }] },
  },
  {
    key: 'inactive_30d',
    name: 'Inactive for 30 days',
    description: 'No interaction (reply) in the last 30 days, or never.',
    rules: { lastInteraction: { notWithinDays: 30 } },
  },
];

/** Rules as stored (JSON), dates as ISO strings. */
export function rulesToJson(rules: SegmentRules): Record<string, unknown> {
  return JSON.parse(JSON.stringify(rules, (_k, v) => (v === null ? undefined : v))) as Record<string, unknown>;
}

/** Reads stored rules; older or hand-written documents are validated the same way. */
export function parseStoredRules(json: unknown): SegmentRules {
  const legacy = json as { tagsAny?: string[]; tagsAll?: string[]; tagsNone?: string[] } | null;
  if (legacy && ('tagsAny' in legacy || 'tagsAll' in legacy || 'tagsNone' in legacy)) {
    return { tags: { any: legacy.tagsAny ?? [], all: legacy.tagsAll ?? [], none: legacy.tagsNone ?? [] } };
  }
  return segmentRulesSchema.parse(json ?? {});
}
