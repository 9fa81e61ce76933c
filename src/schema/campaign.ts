import { z } from 'zod';
import {
  cancelCampaign,
  pauseCampaign,
  resumeCampaign,
  resendUnknown,
  retryFailed,
  scheduleCampaign,
  startCampaign,
  unscheduleCampaign,
} from '../campaigns/lifecycle.js';
import {
  type CampaignInput,
  createCampaign,
  deleteCampaign,
  duplicateCampaign,
  previewMessage,
  updateCampaign,
} from '../campaigns/service.js';
import { prisma } from '../db/client.js';
import { formatTime, WEEKDAYS, weekdayName } from '../domain/campaign-settings.js';
import { countsFromFields } from '../domain/counters.js';
import { parseStoredRules } from '../domain/segment-rules.js';
import { CampaignNotReadyError, ForbiddenError, InvalidTransitionError, NotFoundError, ValidationError } from '../errors.js';
import { AbMetric, AudienceType, CampaignObjective, CampaignStatus, MediaType, type Prisma, Recurrence, RotationMode, TimezoneMode } from '../generated/prisma/client.js';
import { builder } from './builder.js';
import { ContactRef } from './contact.js';
import { COUNTER_SELECT, CountersRef } from './counters.js';
import { rulesFromInput, SegmentRef, SegmentRulesInput, SegmentRulesRef } from './segment.js';
import { WhatsAppInstanceRef } from './sender.js';
import { OrderDirectionEnum, reloadQuery } from './shared.js';

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
    usageCount: t.exposeInt('usageCount'),
  }),
});

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
  .objectRef<{ minDelayMs: number | null; maxDelayMs: number | null; maxAttempts: number; errorThreshold: number }>('CampaignPacing')
  .implement({
    description: "On top of each instance's own limits and delays.",
    fields: (t) => ({
      minDelayMs: t.exposeInt('minDelayMs', { nullable: true, description: 'Least pause between two sends of an instance (the larger of this and the instance\'s).' }),
      maxDelayMs: t.exposeInt('maxDelayMs', { nullable: true }),
      maxAttempts: t.exposeInt('maxAttempts', { description: 'Attempts for a send that certainly did not leave (Evolution unreachable or 5xx).' }),
      errorThreshold: t.exposeInt('errorThreshold', { description: 'The campaign pauses itself after this many consecutive send errors.' }),
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
    pacing: t.field({ type: PacingRef, select: { minDelayMs: true, maxDelayMs: true, maxAttempts: true, errorThreshold: true }, resolve: (c) => c }),
    abTest: t.field({
      type: AbTestSettingsRef,
      select: { abEnabled: true, abTestShare: true, abMetric: true, abMinSample: true, abSignificance: true, abAutoWinner: true, abDecidedAt: true },
      resolve: (c) => c,
    }),
    followUps: t.relation('followUpRules', { query: { orderBy: { step: 'asc' } } }),
    cost: t.float({ nullable: true, select: { cost: true }, description: 'What the campaign cost (for ROI).', resolve: (c) => (c.cost === null ? null : Number(c.cost)) }),
    parentCampaign: t.relation('parent', { nullable: true, description: 'The campaign this recurring occurrence follows.' }),
    counters: t.field({ type: CountersRef, select: COUNTER_SELECT, resolve: (c) => countsFromFields(c) }),
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

// ───────────── inputs ─────────────

const uuidText = z.string().uuid('not a variation id');

const MessageInput = builder.inputType('CampaignMessageInput', {
  fields: (t) => ({
    text: t.string({ required: true, validate: z.string().min(1, 'the message is empty').max(4096, 'at most 4096 characters') }),
    mediaType: t.field({ type: MediaTypeEnum }),
    mediaUrl: t.string({ validate: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }) }),
    mediaMimetype: t.string({ validate: z.string().regex(/^[\w.+-]+\/[\w.+-]+$/, 'a MIME type such as application/pdf') }),
    mediaFileName: t.string({ validate: z.string().min(1).max(255) }),
    abVariant: t.string({ validate: z.string().regex(/^[A-Z]$/, 'a variant is one capital letter') }),
    abWeight: t.float({ validate: z.number().min(0).max(100) }),
    trackLinks: t.boolean({ description: 'Replace the URLs of the text with per-recipient short links that count clicks.' }),
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
  description: 'Exactly one of: every contact, tag rules, segment rules, a saved segment, or explicit contacts.',
  fields: (t) => ({
    all: t.boolean(),
    tags: t.field({ type: TagRulesInput }),
    rules: t.field({ type: SegmentRulesInput }),
    segmentId: t.globalID({ for: SegmentRef }),
    contactIds: t.globalIDList({ for: ContactRef, validate: z.array(z.unknown()).max(100_000) }),
  }),
});

const WindowInput = builder.inputType('SendingWindowInput', {
  description: 'Fields left out keep their value on update; startTime and endTime go together.',
  fields: (t) => ({
    startTime: t.string({ description: 'HH:MM, 24-hour. Null: any time of day.' }),
    endTime: t.string({ description: 'HH:MM; before startTime means overnight (e.g. 20:00–02:00).' }),
    weekdays: t.field({ type: [WeekdayEnum] }),
    respectHolidays: t.boolean({ description: "Skip national/regional holidays and the tenant's own." }),
    holidayCountry: t.string({ description: "ISO country of the holidays (the tenant's when absent)." }),
    holidayRegion: t.string({ description: 'Subdivision, e.g. SP.' }),
    timezoneMode: t.field({ type: TimezoneModeEnum }),
  }),
});

const ScheduleInput = builder.inputType('CampaignScheduleInput', {
  fields: (t) => ({
    startAt: t.field({ type: 'DateTime', description: 'When to start (scheduleCampaign makes it binding).' }),
    recurrence: t.field({ type: RecurrenceEnum }),
    interval: t.int({ validate: z.number().int().min(1).max(365) }),
    endAfterOccurrences: t.int({ validate: z.number().int().min(1).max(1000) }),
    endAt: t.field({ type: 'DateTime' }),
  }),
});

const PacingInput = builder.inputType('CampaignPacingInput', {
  fields: (t) => ({
    minDelayMs: t.int({ validate: z.number().int().min(0).max(600_000) }),
    maxDelayMs: t.int({ validate: z.number().int().min(0).max(600_000) }),
    maxAttempts: t.int({ validate: z.number().int().min(1).max(10) }),
    errorThreshold: t.int({ validate: z.number().int().min(1).max(10_000) }),
  }),
});

const AbTestInput = builder.inputType('AbTestInput', {
  fields: (t) => ({
    enabled: t.boolean({ required: true }),
    testShare: t.float({ description: '0 (split the whole audience) up to but excluding 1.' }),
    metric: t.field({ type: AbMetricEnum }),
    minSample: t.int({ validate: z.number().int().min(1).max(1_000_000) }),
    significance: t.float(),
    autoWinner: t.boolean(),
  }),
});

const FollowUpInput = builder.inputType('FollowUpRuleInput', {
  fields: (t) => ({
    afterDays: t.int({ required: true, description: 'Days without a reply after the previous message (1–90).' }),
    text: t.string({ required: true, validate: z.string().min(1, 'the message is empty').max(4096) }),
    mediaType: t.field({ type: MediaTypeEnum }),
    mediaUrl: t.string({ validate: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }) }),
    mediaMimetype: t.string(),
    mediaFileName: t.string(),
  }),
});

const campaignFields = (t: Parameters<Parameters<typeof builder.inputType>[1]['fields']>[0], create: boolean) => ({
  description: t.string({ validate: z.string().max(2000) }),
  objective: t.field({ type: CampaignObjectiveEnum }),
  rotationMode: t.field({ type: RotationModeEnum }),
  messages: t.field({
    type: [MessageInput],
    description: create ? 'The variations, in order.' : 'Replaces every variation.',
    validate: z.array(z.unknown()).max(20, 'at most 20 variations'),
  }),
  audience: t.field({ type: AudienceInput }),
  instanceIds: t.globalIDList({ for: WhatsAppInstanceRef, description: create ? 'Sender instances.' : 'Replaces the sender instances.', validate: z.array(z.unknown()).max(100) }),
  schedule: t.field({ type: ScheduleInput }),
  window: t.field({ type: WindowInput }),
  pacing: t.field({ type: PacingInput }),
  abTest: t.field({ type: AbTestInput }),
  followUps: t.field({ type: [FollowUpInput], description: create ? 'Follow-ups, in order.' : 'Replaces the follow-ups.' }),
  cost: t.float({ validate: z.number().min(0).max(1e12) }),
});

const CreateCampaignInput = builder.inputType('CreateCampaignInput', {
  fields: (t) => ({
    name: t.string({ required: true, validate: z.string().trim().min(1, 'a campaign needs a name').max(200) }),
    ...campaignFields(t, true),
  }),
});

const UpdateCampaignInput = builder.inputType('UpdateCampaignInput', {
  description: 'Only the fields given change; in window, schedule, pacing and abTest too.',
  fields: (t) => ({
    name: t.string({ validate: z.string().trim().min(1, 'a campaign needs a name').max(200).nullish() }),
    ...campaignFields(t, false),
  }),
});

type CampaignInputShape = typeof UpdateCampaignInput.$inferInput;

/** GraphQL input → service input (global ids decoded, rules parsed with their input path). */
function toCampaignInput(input: CampaignInputShape): CampaignInput {
  const { audience, instanceIds, name, ...rest } = input;
  if (name === null) throw ValidationError.field(['input', 'name'], 'a campaign needs a name');
  return {
    ...rest,
    ...(name !== undefined ? { name: name.trim() } : {}),
    ...(instanceIds !== undefined ? { instanceIds: instanceIds?.map((g) => g.id) ?? null } : {}),
    ...(audience !== undefined
      ? {
          audience: audience && {
            all: audience.all,
            tags: audience.tags,
            segmentId: audience.segmentId?.id,
            contactIds: audience.contactIds?.map((g) => g.id),
            rules: audience.rules ? rulesFromInput(audience.rules, ['input', 'audience', 'rules']) : null,
          },
        }
      : {}),
  } as CampaignInput;
}

// ───────────── mutations ─────────────

const TRANSITION_ERRORS = [ForbiddenError, NotFoundError, InvalidTransitionError] as const;
const actor = (ctx: { viewer: { apiKeyId: string } }) => `api-key:${ctx.viewer.apiKeyId}`;
const reload = (query: object, id: string) => prisma.campaign.findUniqueOrThrow({ ...reloadQuery(query), where: { id } });

const RetryFailedResultRef = builder.objectRef<{ requeued: number; campaignId: string }>('RetryFailedPayload').implement({
  fields: (t) => ({
    requeued: t.exposeInt('requeued', { description: 'Failed recipients queued again (only those whose message certainly did not leave).' }),
    campaign: t.prismaField({ type: CampaignRef, resolve: (query, r) => reload(query, r.campaignId) }),
  }),
});

const ResendUnknownResultRef = builder.objectRef<{ requeued: number; campaignId: string }>('ResendUnknownPayload').implement({
  fields: (t) => ({
    requeued: t.exposeInt('requeued', { description: 'Recipients whose outcome stayed unknown, queued again.' }),
    campaign: t.prismaField({ type: CampaignRef, resolve: (query, r) => reload(query, r.campaignId) }),
  }),
});

builder.mutationFields((t) => ({
  createCampaign: t.prismaField({
    type: CampaignRef,
    authScopes: { operator: true },
    errors: { types: [ValidationError, ForbiddenError] },
    args: { input: t.arg({ type: CreateCampaignInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const c = await createCampaign(ctx.viewer.tenantId, toCampaignInput(input) as CampaignInput & { name: string }, actor(ctx));
      return reload(query, c.id);
    },
  }),
  updateCampaign: t.prismaField({
    type: CampaignRef,
    description: 'Changes a campaign that is not sending (DRAFT, SCHEDULED or PAUSED). Only the fields given change.',
    authScopes: { operator: true },
    errors: { types: [ValidationError, ForbiddenError, NotFoundError, InvalidTransitionError] },
    args: { id: t.arg.globalID({ required: true, for: CampaignRef }), input: t.arg({ type: UpdateCampaignInput, required: true }) },
    resolve: async (query, _root, { id, input }, ctx) => {
      await updateCampaign(ctx.viewer.tenantId, id.id, toCampaignInput(input), actor(ctx));
      return reload(query, id.id);
    },
  }),
  deleteCampaign: t.globalID({
    description: 'Deletes a DRAFT campaign (its log stays); returns its id.',
    authScopes: { operator: true },
    errors: { types: [...TRANSITION_ERRORS] },
    args: { id: t.arg.globalID({ required: true, for: CampaignRef }) },
    resolve: async (_root, { id }, ctx) => ({ type: 'Campaign', id: await deleteCampaign(ctx.viewer.tenantId, id.id, actor(ctx)) }),
  }),
  duplicateCampaign: t.prismaField({
    type: CampaignRef,
    description: 'A new DRAFT with the same settings, variations, instances and follow-ups.',
    authScopes: { operator: true },
    errors: { types: [ValidationError, ForbiddenError, NotFoundError] },
    args: {
      id: t.arg.globalID({ required: true, for: CampaignRef }),
      name: t.arg.string({ validate: z.string().trim().min(1).max(200) }),
    },
    resolve: async (query, _root, { id, name }, ctx) => {
      const copy = await duplicateCampaign(ctx.viewer.tenantId, id.id, actor(ctx), name?.trim());
      return reload(query, copy.id);
    },
  }),
  scheduleCampaign: t.prismaField({
    type: CampaignRef,
    description: 'DRAFT → SCHEDULED: starts at `startAt` (or the schedule saved on the campaign).',
    authScopes: { operator: true },
    errors: { types: [...TRANSITION_ERRORS, ValidationError] },
    args: { id: t.arg.globalID({ required: true, for: CampaignRef }), startAt: t.arg({ type: 'DateTime' }) },
    resolve: async (query, _root, { id, startAt }, ctx) => {
      await scheduleCampaign(ctx.viewer.tenantId, id.id, actor(ctx), startAt ?? null);
      return reload(query, id.id);
    },
  }),
  unscheduleCampaign: t.prismaField({
    type: CampaignRef,
    description: 'SCHEDULED → DRAFT.',
    authScopes: { operator: true },
    errors: { types: [...TRANSITION_ERRORS] },
    args: { id: t.arg.globalID({ required: true, for: CampaignRef }) },
    resolve: async (query, _root, { id }, ctx) => {
      await unscheduleCampaign(ctx.viewer.tenantId, id.id, actor(ctx));
      return reload(query, id.id);
    },
  }),
  startCampaign: t.prismaField({
    type: CampaignRef,
    description: 'Freezes the audience into recipients and starts sending.',
    authScopes: { operator: true },
    errors: { types: [...TRANSITION_ERRORS, CampaignNotReadyError] },
    args: { id: t.arg.globalID({ required: true, for: CampaignRef }) },
    resolve: async (query, _root, { id }, ctx) => {
      await startCampaign(ctx.viewer.tenantId, id.id, actor(ctx));
      return reload(query, id.id);
    },
  }),
  pauseCampaign: t.prismaField({
    type: CampaignRef,
    description: 'Stops sending. When it returns, no further send of this campaign starts.',
    authScopes: { operator: true },
    errors: { types: [...TRANSITION_ERRORS] },
    args: { id: t.arg.globalID({ required: true, for: CampaignRef }), reason: t.arg.string({ validate: z.string().max(500) }) },
    resolve: async (query, _root, { id, reason }, ctx) => {
      await pauseCampaign(ctx.viewer.tenantId, id.id, actor(ctx), reason ?? null);
      return reload(query, id.id);
    },
  }),
  resumeCampaign: t.prismaField({
    type: CampaignRef,
    authScopes: { operator: true },
    errors: { types: [...TRANSITION_ERRORS] },
    args: { id: t.arg.globalID({ required: true, for: CampaignRef }) },
    resolve: async (query, _root, { id }, ctx) => {
      await resumeCampaign(ctx.viewer.tenantId, id.id, actor(ctx));
      return reload(query, id.id);
    },
  }),
  cancelCampaign: t.prismaField({
    type: CampaignRef,
    description: 'Stops the campaign for good; recipients not yet sent are skipped.',
    authScopes: { operator: true },
    errors: { types: [...TRANSITION_ERRORS] },
    args: { id: t.arg.globalID({ required: true, for: CampaignRef }) },
    resolve: async (query, _root, { id }, ctx) => {
      await cancelCampaign(ctx.viewer.tenantId, id.id, actor(ctx));
      return reload(query, id.id);
    },
  }),
  retryFailed: t.field({
    type: RetryFailedResultRef,
    description: 'Queues again the recipients that FAILED without their message leaving (never those WhatsApp reported failed, numbers not on WhatsApp, or unknown outcomes).',
    authScopes: { operator: true },
    errors: { types: [...TRANSITION_ERRORS] },
    args: { id: t.arg.globalID({ required: true, for: CampaignRef }) },
    resolve: async (_root, { id }, ctx) => ({ requeued: await retryFailed(ctx.viewer.tenantId, id.id, actor(ctx)), campaignId: id.id }),
  }),
  resendUnknown: t.field({
    type: ResendUnknownResultRef,
    description:
      "Sends again the recipients whose outcome stayed UNKNOWN after reconciliation with Evolution (its message store could not show whether their message left; each keeps the evidence in its OUTCOME_RECONCILED log entry). Some of them may get the message twice: `confirm` must be true. Outcomes still being resolved are not touched.",
    authScopes: { operator: true },
    errors: { types: [ValidationError, ...TRANSITION_ERRORS] },
    args: {
      id: t.arg.globalID({ required: true, for: CampaignRef }),
      confirm: t.arg.boolean({
        required: true,
        description: 'true: you accept that whoever already got the message gets it again.',
        validate: z.literal(true, { error: 'must be true: resending may deliver the message twice to whoever already got it' }),
      }),
    },
    resolve: async (_root, { id }, ctx) => ({ requeued: await resendUnknown(ctx.viewer.tenantId, id.id, actor(ctx)), campaignId: id.id }),
  }),
}));
