import { previewMessage } from '../../features/campaigns/service.js';
import { prisma } from '../../infra/db/client.js';
import { formatTime, WEEKDAYS, weekdayName } from '../../domain/campaign-settings.js';
import { countsFromFields } from '../../domain/counters.js';
import { parseStoredRules } from '../../domain/segment-rules.js';
import { NotFoundError, ValidationError } from '../../domain/errors.js';
import { AbMetric, AudienceType, CampaignObjective, CampaignStatus, MediaType, type Prisma, Recurrence, type SkipReason, RotationMode, TimezoneMode } from '../../generated/prisma/client.js';
import { batched } from './batching.js';
import { storedParams, type TemplateChoice } from '../../domain/wa-template.js';
import { builder } from './builder.js';
import { ContactRef } from './contact.js';
import { COUNTER_SELECT, CountersRef } from './counters.js';
import { SegmentRulesRef } from './segment.js';
import { WhatsAppInstanceRef } from './sender.js';
import { FrequencyCapRef, OrderDirectionEnum } from './shared.js';

// The campaign: its enums and types first (other domains' files refer to them), then its queries.
// Inputs and mutations are in campaign-mutations.ts, subscriptions in live.ts, analytics in analytics.ts.

export const CampaignStatusEnum = builder.enumType(CampaignStatus, { name: 'CampaignStatus' });
export const CampaignObjectiveEnum = builder.enumType(CampaignObjective, { name: 'CampaignObjective' });
export const RotationModeEnum = builder.enumType(RotationMode, { name: 'RotationMode' });
export const MediaTypeEnum = builder.enumType(MediaType, { name: 'MediaType' });
export const AudienceTypeEnum = builder.enumType(AudienceType, { name: 'AudienceType' });
export const RecurrenceEnum = builder.enumType(Recurrence, { name: 'Recurrence' });
export const TimezoneModeEnum = builder.enumType(TimezoneMode, {
  name: 'TimezoneMode',
  description: "TENANT: the window is read in the tenant's time zone; CONTACT: in each contact's (the tenant's when unknown).",
});
export const AbMetricEnum = builder.enumType(AbMetric, { name: 'AbMetric' });
export const WeekdayEnum = builder.enumType('Weekday', { values: WEEKDAYS });

export const SkipReasonEnum = builder.enumType('SkipReason', {
  description: 'Why a recipient ended SKIPPED; none of these was sent to Evolution.',
  values: {
    OPTED_OUT: { value: 'OPTED_OUT', description: 'The contact opted out.' },
    BLOCKED: { value: 'BLOCKED', description: 'The tenant blocked the contact.' },
    NOT_ON_WHATSAPP: { value: 'NOT_ON_WHATSAPP', description: 'Evolution answered (to any campaign) that the number has no WhatsApp.' },
    NO_OPT_IN: { value: 'NO_OPT_IN', description: 'The tenant requires opt-in and the contact has none.' },
    FREQUENCY_CAP: { value: 'FREQUENCY_CAP', description: "The contact reached the frequency cap and it frees only after the campaign's expiry." },
    EXPIRED: { value: 'EXPIRED', description: 'The campaign expired (safety.expireAfterMinutes) before the recipient could be sent.' },
    CAMPAIGN_CANCELLED: { value: 'CAMPAIGN_CANCELLED', description: 'The campaign was cancelled first.' },
    CONTACT_DELETED: { value: 'CONTACT_DELETED', description: 'The contact was deleted first.' },
    OUTSIDE_SERVICE_WINDOW: {
      value: 'OUTSIDE_SERVICE_WINDOW',
      description:
        'A free-text variation on a WhatsApp Business (Cloud API) number, to a contact who sent that number nothing in the last 24 hours, and the campaign has no template variation to send instead.',
    },
  } as const,
});

const SkipCountRef = builder.objectRef<{ reason: SkipReason; count: number }>('SkipReasonCount').implement({
  fields: (t) => ({ reason: t.expose('reason', { type: SkipReasonEnum }), count: t.exposeInt('count') }),
});

/** Skipped recipients by reason, for every campaign a request shows, in one statement. */
async function skipsByReason(tenantId: string, campaignIds: readonly string[]): Promise<Map<string, Array<{ reason: SkipReason; count: number }>>> {
  const rows = await prisma.$queryRaw<Array<{ campaign_id: string; reason: SkipReason; count: number }>>`
    SELECT campaign_id::text, skip_reason::text AS reason, count(*)::int AS count FROM recipient
    WHERE campaign_id = ANY(${campaignIds}::uuid[]) AND tenant_id = ${tenantId}::uuid AND status = 'SKIPPED' AND skip_reason IS NOT NULL
    GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2`;
  const out = new Map<string, Array<{ reason: SkipReason; count: number }>>();
  for (const r of rows) out.set(r.campaign_id, [...(out.get(r.campaign_id) ?? []), { reason: r.reason, count: r.count }]);
  return out;
}

const MessageTemplateRef = builder.objectRef<TemplateChoice>('MessageTemplate').implement({
  description: 'A WhatsApp Business (Cloud API) message template, with the texts of its parameters.',
  fields: (t) => ({
    name: t.exposeString('name'),
    language: t.exposeString('language'),
    bodyParams: t.exposeStringList('bodyParams'),
    headerParams: t.exposeStringList('headerParams'),
  }),
});

export const CampaignMessageRef = builder.prismaObject('CampaignMessage', {
  // Select mode: only the columns the query's fields need are loaded (see docs/decisions.md).
  select: { id: true },
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
    abWeight: t.exposeFloat('abWeight', { nullable: true, description: 'Share of the A/B test audience, in percent.' }),
    trackLinks: t.exposeBoolean('trackLinks', { description: 'URLs in the text become per-recipient short links that count clicks.' }),
    template: t.field({
      type: MessageTemplateRef,
      nullable: true,
      description: "The WhatsApp Business template this variation sends (text is then the template's body).",
      select: { templateName: true, templateLanguage: true, templateParams: true },
      resolve: (m) => (m.templateName && m.templateLanguage ? { name: m.templateName, language: m.templateLanguage, ...storedParams(m.templateParams) } : null),
    }),
    usageCount: t.int({
      description: 'Recipients this variation was sent to (follow-ups excluded). campaign.analytics.variations has every figure per variation.',
      resolve: (m, _args, ctx) => batched(ctx, 'variation-usage', (ids) => variationUsage(ctx.viewer.tenantId, ids)).load(m.id).then((n) => n ?? 0),
    }),
  }),
});

/** How many recipients each variation was sent to: one statement for all the variations a request shows. */
async function variationUsage(tenantId: string, messageIds: readonly string[]): Promise<Map<string, number>> {
  const rows = await prisma.$queryRaw<Array<{ message_id: string; n: number }>>`
    SELECT r.message_id::text, count(r.sent_at)::int AS n FROM recipient r
    WHERE r.campaign_id IN (SELECT campaign_id FROM campaign_message WHERE id = ANY(${messageIds}::uuid[]) AND tenant_id = ${tenantId}::uuid)
      AND r.message_id = ANY(${messageIds}::uuid[])
    GROUP BY r.message_id`;
  return new Map(rows.map((r) => [r.message_id, r.n]));
}

export const FollowUpRuleRef = builder.prismaObject('FollowUpRule', {
  description: 'A follow-up sent to recipients who did not reply.',
  fields: (t) => ({
    id: t.exposeID('id'),
    step: t.exposeInt('step', { description: '1 for the first follow-up, 2 for the second, …' }),
    afterDays: t.exposeInt('afterDays', { description: 'Days without a reply after the previous message.' }),
    text: t.exposeString('text'),
    mediaType: t.expose('mediaType', { type: MediaTypeEnum, nullable: true }),
    mediaUrl: t.exposeString('mediaUrl', { nullable: true }),
    mediaMimetype: t.exposeString('mediaMimetype', { nullable: true }),
    mediaFileName: t.exposeString('mediaFileName', { nullable: true }),
  }),
});

interface WindowShape {
  windowStartMinute: number | null;
  windowEndMinute: number | null;
  windowWeekdays: number[];
  respectHolidays: boolean;
  holidayCountry: string | null;
  holidayRegion: string | null;
  timezoneMode: TimezoneMode;
}

const SendingWindowRef = builder.objectRef<WindowShape>('SendingWindow').implement({
  description: 'When the campaign may send. Sends outside the window wait for its next opening.',
  fields: (t) => ({
    startTime: t.string({ nullable: true, description: 'HH:MM; null: any time of day.', resolve: (w) => (w.windowStartMinute === null ? null : formatTime(w.windowStartMinute)) }),
    endTime: t.string({ nullable: true, description: 'HH:MM (before startTime: overnight).', resolve: (w) => (w.windowEndMinute === null ? null : formatTime(w.windowEndMinute)) }),
    weekdays: t.field({ type: [WeekdayEnum], resolve: (w) => w.windowWeekdays.map(weekdayName) }),
    respectHolidays: t.exposeBoolean('respectHolidays'),
    holidayCountry: t.exposeString('holidayCountry', { nullable: true, description: "Country of the holidays (the tenant's when null)." }),
    holidayRegion: t.exposeString('holidayRegion', { nullable: true }),
    timezoneMode: t.field({ type: TimezoneModeEnum, resolve: (w) => w.timezoneMode }),
  }),
});

const ScheduleRef = builder
  .objectRef<{ scheduledAt: Date | null; recurrence: Recurrence; recurrenceInterval: number; recurrenceEndAfter: number | null; recurrenceEndAt: Date | null; occurrence: number }>(
    'CampaignSchedule',
  )
  .implement({
    fields: (t) => ({
      startAt: t.expose('scheduledAt', { type: 'DateTime', nullable: true }),
      recurrence: t.field({ type: RecurrenceEnum, resolve: (s) => s.recurrence }),
      interval: t.exposeInt('recurrenceInterval', { description: 'Every N days / weeks / months.' }),
      endAfterOccurrences: t.exposeInt('recurrenceEndAfter', { nullable: true }),
      endAt: t.expose('recurrenceEndAt', { type: 'DateTime', nullable: true }),
      occurrence: t.exposeInt('occurrence', { description: 'Which occurrence of a recurring campaign this is (1 for the first).' }),
    }),
  });

const PacingRef = builder
  .objectRef<{
    minDelayMs: number | null;
    maxDelayMs: number | null;
    maxAttempts: number;
    errorThreshold: number;
    limitPerMinute: number | null;
    limitPerHour: number | null;
    limitPerDay: number | null;
    typingDelayMs: number;
  }>('CampaignPacing')
  .implement({
    description: "On top of each instance's own limits and delays.",
    fields: (t) => ({
      minDelayMs: t.exposeInt('minDelayMs', { nullable: true, description: 'Least pause between two sends of an instance (the larger of this and the instance\'s).' }),
      maxDelayMs: t.exposeInt('maxDelayMs', { nullable: true }),
      maxAttempts: t.exposeInt('maxAttempts', { description: 'Attempts for a send that certainly did not leave (Evolution unreachable or 5xx).' }),
      errorThreshold: t.exposeInt('errorThreshold', { description: 'The campaign pauses itself after this many consecutive send errors.' }),
      typingDelayMs: t.exposeInt('typingDelayMs', {
        description: 'Typing presence ("composing") before each message, in ms (Evolution\'s `delay`; 0: none). Counted in pacing: the next send of the instance starts after it and the gap.',
      }),
      limitPerMinute: t.exposeInt('limitPerMinute', { nullable: true, description: 'At most this many sends in any 60 s over all its instances together; null: no cap.' }),
      limitPerHour: t.exposeInt('limitPerHour', { nullable: true, description: 'At most this many in any hour over all its instances; null: no cap.' }),
      limitPerDay: t.exposeInt('limitPerDay', { nullable: true, description: "At most this many in the tenant's local calendar day; null: no cap." }),
    }),
  });

const SafetyRef = builder
  .objectRef<{ expireAfterMinutes: number | null; expiresAt: Date | null; frequencyCapMessages: number | null; frequencyCapHours: number | null; frequencyCapExempt: boolean }>(
    'CampaignSafety',
  )
  .implement({
    description: "What protects the campaign's contacts besides opt-out and consent, which are checked at every send.",
    fields: (t) => ({
      expireAfterMinutes: t.exposeInt('expireAfterMinutes', { nullable: true }),
      expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true, description: 'Start + expireAfterMinutes, once started.' }),
      frequencyCap: t.field({
        type: FrequencyCapRef,
        nullable: true,
        description: "The campaign's own cap (null: the tenant's applies, unless exempt).",
        resolve: (c) => (c.frequencyCapMessages !== null && c.frequencyCapHours !== null ? { messages: c.frequencyCapMessages, periodHours: c.frequencyCapHours } : null),
      }),
      frequencyCapExempt: t.exposeBoolean('frequencyCapExempt'),
    }),
  });

const AbTestSettingsRef = builder
  .objectRef<{ abEnabled: boolean; abTestShare: number; abMetric: AbMetric; abMinSample: number; abSignificance: number; abAutoWinner: boolean; abDecidedAt: Date | null }>(
    'AbTestSettings',
  )
  .implement({
    fields: (t) => ({
      enabled: t.exposeBoolean('abEnabled'),
      testShare: t.exposeFloat('abTestShare', { description: 'Share of the audience (0–1) that tests the variants first; 0: the whole audience is split.' }),
      metric: t.field({ type: AbMetricEnum, resolve: (a) => a.abMetric }),
      minSample: t.exposeInt('abMinSample', { description: 'Recipients per variant before a winner may be chosen.' }),
      significance: t.exposeFloat('abSignificance', { description: 'Confidence level of the two-proportion test, e.g. 0.95.' }),
      autoWinner: t.exposeBoolean('abAutoWinner', { description: 'Send the winner to the rest automatically.' }),
      decidedAt: t.expose('abDecidedAt', { type: 'DateTime', nullable: true }),
    }),
  });

const AudienceRef = builder
  .objectRef<{ audienceType: AudienceType; audienceRules: unknown; audienceSegmentId: string | null; audienceContactIds: string[] }>('CampaignAudience')
  .implement({
    description: 'Who the campaign targets. Opted-out, blocked and not-on-WhatsApp contacts never receive.',
    fields: (t) => ({
      type: t.field({ type: AudienceTypeEnum, resolve: (a) => a.audienceType }),
      rules: t.field({ type: SegmentRulesRef, nullable: true, resolve: (a) => (a.audienceType === 'RULES' && a.audienceRules ? parseStoredRules(a.audienceRules) : null) }),
      segmentId: t.globalID({ nullable: true, resolve: (a) => (a.audienceSegmentId ? { type: 'Segment', id: a.audienceSegmentId } : null) }),
      contactIds: t.globalIDList({ resolve: (a) => a.audienceContactIds.map((id) => ({ type: 'Contact', id })) }),
    }),
  });

export const CampaignRef = builder.prismaNode('Campaign', {
  id: { field: 'id' },
  // Select mode: only the columns the query's fields need are loaded (a campaign row has ~70).
  select: { id: true },
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
    stalledSince: t.expose('stalledSince', {
      type: 'DateTime',
      nullable: true,
      description: 'Since when the campaign has messages due and no worker process is alive to send them; null when not stalled.',
    }),
    waitingForReconnectSince: t.field({
      type: 'DateTime',
      nullable: true,
      select: { reconnectWaitSince: true, status: true },
      description: 'While every instance it can send through is disconnected from WhatsApp: since when it waits (RUNNING, its recipients stay queued and none fails; it sends again when a number reconnects); null otherwise.',
      resolve: (c) => (c.status === 'RUNNING' ? c.reconnectWaitSince : null),
    }),
    messages: t.relation('messages', { query: { orderBy: [{ order: 'asc' }, { createdAt: 'asc' }] } }),
    instances: t.field({
      type: [WhatsAppInstanceRef],
      select: (_args, _ctx, nestedSelection) => ({
        instances: { select: { instance: nestedSelection(true) }, orderBy: { addedAt: 'asc' } },
      }),
      resolve: (c) => c.instances.map((l) => l.instance),
    }),
    audience: t.field({
      type: AudienceRef,
      select: { audienceType: true, audienceRules: true, audienceSegmentId: true, audienceContactIds: true },
      resolve: (c) => c,
    }),
    segment: t.relation('audienceSegment', { nullable: true, description: 'The saved segment the audience comes from (SEGMENT audiences).' }),
    window: t.field({
      type: SendingWindowRef,
      select: { windowStartMinute: true, windowEndMinute: true, windowWeekdays: true, respectHolidays: true, holidayCountry: true, holidayRegion: true, timezoneMode: true },
      resolve: (c) => c,
    }),
    schedule: t.field({
      type: ScheduleRef,
      select: { scheduledAt: true, recurrence: true, recurrenceInterval: true, recurrenceEndAfter: true, recurrenceEndAt: true, occurrence: true },
      resolve: (c) => c,
    }),
    pacing: t.field({
      type: PacingRef,
      select: { minDelayMs: true, maxDelayMs: true, maxAttempts: true, errorThreshold: true, limitPerMinute: true, limitPerHour: true, limitPerDay: true, typingDelayMs: true },
      resolve: (c) => c,
    }),
    priority: t.exposeInt('priority', {
      description: 'From 1 (lowest) to 10 (highest; default 5): campaigns of the tenant sharing an instance fill its slots highest priority first.',
    }),
    throttledUntil: t.field({
      type: 'DateTime',
      nullable: true,
      select: { throttledUntil: true },
      description: 'While one of its instances is deferred because WhatsApp or a gateway throttled its sends: until when (those sends wait, none fails); null otherwise.',
      resolve: (c) => (c.throttledUntil && c.throttledUntil.getTime() > Date.now() ? c.throttledUntil : null),
    }),
    safety: t.field({
      type: SafetyRef,
      select: { expireAfterMinutes: true, expiresAt: true, frequencyCapMessages: true, frequencyCapHours: true, frequencyCapExempt: true },
      resolve: (c) => c,
    }),
    abTest: t.field({
      type: AbTestSettingsRef,
      select: { abEnabled: true, abTestShare: true, abMetric: true, abMinSample: true, abSignificance: true, abAutoWinner: true, abDecidedAt: true },
      resolve: (c) => c,
    }),
    followUps: t.relation('followUpRules', { query: { orderBy: { step: 'asc' } } }),
    cost: t.float({ nullable: true, select: { cost: true }, description: 'What the campaign cost (for ROI).', resolve: (c) => (c.cost === null ? null : Number(c.cost)) }),
    parentCampaign: t.relation('parent', { nullable: true, description: 'The campaign this recurring occurrence follows.' }),
    counters: t.field({ type: CountersRef, select: COUNTER_SELECT, resolve: (c) => countsFromFields(c) }),
    skippedByReason: t.field({
      type: [SkipCountRef],
      description: 'The skipped recipients (counters.skipped) by reason, most frequent first.',
      resolve: async (c, _args, ctx) => (await batched(ctx, 'skips-by-reason', (ids) => skipsByReason(ctx.viewer.tenantId, ids)).load(c.id)) ?? [],
    }),
    createdBy: t.exposeString('createdBy', { nullable: true }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    pausedAt: t.expose('pausedAt', { type: 'DateTime', nullable: true }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
    cancelledAt: t.expose('cancelledAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

// ───────────── queries ─────────────

const CampaignOrderFieldEnum = builder.enumType('CampaignOrderField', { values: ['CREATED_AT', 'UPDATED_AT', 'NAME', 'STARTED_AT'] as const });
const CampaignOrderInput = builder.inputType('CampaignOrder', {
  fields: (t) => ({
    field: t.field({ type: CampaignOrderFieldEnum, required: true }),
    direction: t.field({ type: OrderDirectionEnum, defaultValue: 'DESC' }),
  }),
});

const CampaignFilterInput = builder.inputType('CampaignFilter', {
  fields: (t) => ({
    status: t.field({ type: [CampaignStatusEnum], description: 'Any of these statuses.' }),
    objective: t.field({ type: [CampaignObjectiveEnum], description: 'Any of these objectives.' }),
    createdAfter: t.field({ type: 'DateTime' }),
    createdBefore: t.field({ type: 'DateTime' }),
    search: t.string({ description: 'Part of the name or description.' }),
  }),
});

const ORDER_FIELD = { CREATED_AT: 'createdAt', UPDATED_AT: 'updatedAt', NAME: 'name', STARTED_AT: 'startedAt' } as const;

function campaignWhere(tenantId: string, f: typeof CampaignFilterInput.$inferInput | null | undefined, status?: CampaignStatus[] | null): Prisma.CampaignWhereInput {
  const statuses = [...(f?.status ?? []), ...(status ?? [])];
  const search = f?.search?.trim();
  return {
    tenantId,
    ...(statuses.length ? { status: { in: statuses } } : {}),
    ...(f?.objective?.length ? { objective: { in: f.objective } } : {}),
    ...(f?.createdAfter || f?.createdBefore ? { createdAt: { ...(f.createdAfter ? { gte: f.createdAfter } : {}), ...(f.createdBefore ? { lt: f.createdBefore } : {}) } } : {}),
    ...(search
      ? { OR: [{ name: { contains: search, mode: 'insensitive' } }, { description: { contains: search, mode: 'insensitive' } }] }
      : {}),
  };
}

builder.queryFields((t) => ({
  campaign: t.prismaField({
    type: CampaignRef,
    nullable: true,
    args: { id: t.arg.globalID({ required: true, for: CampaignRef }) },
    resolve: (query, _root, { id }, ctx) => prisma.campaign.findFirst({ ...query, where: { id: id.id, tenantId: ctx.viewer.tenantId } }),
  }),
  campaigns: t.prismaConnection(
    {
      type: CampaignRef,
      cursor: 'id',
      description: 'Campaigns of the tenant, newest first unless ordered otherwise.',
      totalCount: (_connection, args, ctx) => prisma.campaign.count({ where: campaignWhere(ctx.viewer.tenantId, args.filter, args.status) }),
      args: {
        filter: t.arg({ type: CampaignFilterInput }),
        status: t.arg({ type: [CampaignStatusEnum], description: 'Shorthand for filter.status.' }),
        orderBy: t.arg({ type: CampaignOrderInput }),
      },
      resolve: (query, _root, args, ctx) => {
        const dir = (args.orderBy?.direction ?? 'DESC') === 'ASC' ? 'asc' : 'desc';
        const field = ORDER_FIELD[args.orderBy?.field ?? 'CREATED_AT'];
        return prisma.campaign.findMany({
          ...query,
          where: campaignWhere(ctx.viewer.tenantId, args.filter, args.status),
          orderBy: [{ [field]: field === 'startedAt' ? { sort: dir, nulls: 'last' } : dir }, { id: dir }],
        });
      },
    },
  ),
}));

const MessagePreviewRef = builder
  .objectRef<Awaited<ReturnType<typeof previewMessage>>>('MessagePreview')
  .implement({
    description: 'Exactly what the contact would receive now, rendered by the code that renders the send.',
    fields: (t) => ({
      messageId: t.exposeID('messageId'),
      order: t.exposeInt('order'),
      abVariant: t.exposeString('abVariant', { nullable: true }),
      text: t.exposeString('text'),
      mediaType: t.field({ type: MediaTypeEnum, nullable: true, resolve: (p) => p.mediaType }),
      mediaUrl: t.exposeString('mediaUrl', { nullable: true }),
      mediaMimetype: t.exposeString('mediaMimetype', { nullable: true }),
      mediaFileName: t.exposeString('mediaFileName', { nullable: true }),
      assigned: t.exposeBoolean('assigned', { description: 'True when the campaign started and this is the variation frozen for the contact.' }),
    }),
  });

builder.queryField('previewMessage', (t) =>
  t.field({
    type: MessagePreviewRef,
    description: "The campaign's message as this contact would get it: its frozen variation once started, else `messageId` or the first.",
    errors: { types: [NotFoundError, ValidationError] },
    args: {
      campaignId: t.arg.globalID({ required: true, for: CampaignRef }),
      contactId: t.arg.globalID({ required: true, for: ContactRef }),
      messageId: t.arg.id({ description: 'A variation of the campaign (CampaignMessage.id).' }),
    },
    resolve: (_root, args, ctx) => previewMessage(ctx.viewer.tenantId, args.campaignId.id, args.contactId.id, args.messageId ? String(args.messageId) : null),
  }),
);
