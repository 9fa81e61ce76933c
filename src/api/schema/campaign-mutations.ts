import { z } from 'zod';
import {
  cancelCampaign,
  pauseCampaign,
  resumeCampaign,
  scheduleCampaign,
  startCampaign,
  unscheduleCampaign,
  type SendInCall,
} from '../../features/campaigns/lifecycle.js';
import { resendUnknown, retryFailed } from '../../features/campaigns/requeue.js';
import type { CampaignInput } from '../../features/campaigns/input.js';
import { createCampaign, deleteCampaign, duplicateCampaign, updateCampaign } from '../../features/campaigns/service.js';
import { prisma } from '../../infra/db/client.js';
import { CampaignNotReadyError, ForbiddenError, InvalidTransitionError, NotFoundError, ValidationError } from '../../domain/errors.js';
import { MAX_TYPING_DELAY_MS } from '../../domain/campaign-settings.js';
import { builder } from './builder.js';
import {
  AbMetricEnum,
  CampaignObjectiveEnum,
  CampaignRef,
  MediaTypeEnum,
  RecurrenceEnum,
  RotationModeEnum,
  TimezoneModeEnum,
  WeekdayEnum,
} from './campaign.js';
import { ContactRef } from './contact.js';
import { rulesFromInput, SegmentRef, SegmentRulesInput } from './segment.js';
import { WhatsAppInstanceRef } from './sender.js';
import { FrequencyCapInput, reloadQuery } from './shared.js';

// The campaign's inputs and mutations (its types and queries are in campaign.ts).

// ───────────── inputs ─────────────

const uuidText = z.string().uuid('not a variation id');

const TemplateParam = z.string().min(1, 'a parameter cannot be empty').max(1024, 'at most 1024 characters');

const MessageTemplateInput = builder.inputType('MessageTemplateInput', {
  description:
    "A WhatsApp Business (Cloud API) message template approved by Meta. It is checked against the templates of the campaign's WHATSAPP_BUSINESS instances when saved. Each parameter is a text rendered per recipient like a variation's text ({{nome}}, custom fields).",
  fields: (t) => ({
    name: t.string({ required: true, validate: z.string().trim().min(1).max(512) }),
    language: t.string({ required: true, description: "Meta's language code, e.g. pt_BR.", validate: z.string().trim().regex(/^[a-z]{2,3}(_[A-Za-z]{2,4})?$/, 'a language code such as pt_BR') }),
    bodyParams: t.stringList({ description: 'The values of the body\'s {{1}}…{{n}}, in order.', validate: z.array(TemplateParam).max(60) }),
    headerParams: t.stringList({ description: "The values of a text header's parameters.", validate: z.array(TemplateParam).max(1) }),
  }),
});

const MessageInput = builder.inputType('CampaignMessageInput', {
  description: 'A variation: free text (with optional media), or a template (WhatsApp Business numbers; on other numbers its body is sent as text).',
  fields: (t) => ({
    text: t.string({ description: 'Required unless template is given.', validate: z.string().min(1, 'the message is empty').max(4096, 'at most 4096 characters') }),
    template: t.field({ type: MessageTemplateInput }),
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
    limitPerMinute: t.int({ description: 'At most this many sends in any 60 s over all its instances together, on top of each instance\'s own limit; null: no cap.' }),
    limitPerHour: t.int({ description: 'The same for any hour; null: no cap.' }),
    limitPerDay: t.int({ description: "The same for the tenant's local calendar day; null: no cap." }),
    typingDelayMs: t.int({
      description: `Typing presence ("composing") Evolution shows for this long before each message (its \`delay\`), 0 to ${MAX_TYPING_DELAY_MS} ms; 0 (default): none. The next send of the instance waits for it, then its gap.`,
      validate: z.number().int().min(0).max(MAX_TYPING_DELAY_MS),
    }),
  }),
});

const SafetyInput = builder.inputType('CampaignSafetyInput', {
  fields: (t) => ({
    expireAfterMinutes: t.int({
      description:
        'Minutes after the start past which a recipient not yet sent ends SKIPPED (EXPIRED) instead of arriving late (windows, holidays, caps, pauses). Null: never.',
      validate: z.number().int().min(1).max(60 * 24 * 90),
    }),
    frequencyCap: t.field({ type: FrequencyCapInput, description: "This campaign's frequency cap, instead of the tenant's. Null: the tenant's." }),
    frequencyCapExempt: t.boolean({ description: 'No frequency cap for this campaign (transactional messages); its sends still count for other campaigns.' }),
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
  safety: t.field({ type: SafetyInput, description: 'Expiry and frequency cap.' }),
  abTest: t.field({ type: AbTestInput }),
  followUps: t.field({ type: [FollowUpInput], description: create ? 'Follow-ups, in order.' : 'Replaces the follow-ups.' }),
  cost: t.float({ validate: z.number().min(0).max(1e12) }),
  priority: t.int({
    description: 'From 1 (lowest) to 10 (highest); 5 when not given. Campaigns of the tenant sharing an instance fill its slots highest priority first.',
  }),
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

const SendInCallRef = builder.objectRef<SendInCall>('SendInCall').implement({
  description:
    'A send of the campaign that was already with Evolution when pause or cancel returned, still without its answer after as long as a call can last. It is not stopped and never sent again: it ends SENT (or DELIVERED and on) if Evolution sent it, UNKNOWN if its answer never comes (then checked against Evolution\'s message store), FAILED if Evolution refused it.',
  fields: (t) => ({
    recipientId: t.exposeID('recipientId'),
    phone: t.exposeString('phone', { description: 'E.164.' }),
    followUpId: t.exposeID('followUpId', { nullable: true, description: 'Set when the send is a follow-up of the recipient.' }),
  }),
});

/** The sends still in a call when pause or cancel returned, by the campaign row the mutation answers with. */
const sendsInCall = new WeakMap<object, SendInCall[]>();

/** What pause and cancel add to their result, next to `data` (the campaign). */
const SENDS_IN_CALL =
  'Empty when no send of the campaign can reach Evolution any more (the usual case). Otherwise the sends whose call to Evolution was still in progress when the mutation gave up waiting, or was given up without an answer meanwhile (a slow Evolution may still act on such a request): they were not stopped and each ends SENT or UNKNOWN (FAILED if Evolution refused it); none is sent twice.';

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
    description:
      'Stops sending. When it returns, no send of this campaign can start any more: a send not yet handed to Evolution goes back to the queue. A send already in a call cannot be taken back; the result lists any that had no answer yet (`sendsInCall`, normally empty).',
    authScopes: { operator: true },
    errors: {
      types: [...TRANSITION_ERRORS],
      result: { fields: (r) => ({ sendsInCall: r.field({ type: [SendInCallRef], description: SENDS_IN_CALL, resolve: (row) => sendsInCall.get(row) ?? [] }) }) },
    },
    args: { id: t.arg.globalID({ required: true, for: CampaignRef }), reason: t.arg.string({ validate: z.string().max(500) }) },
    resolve: async (query, _root, { id, reason }, ctx) => {
      const inCall = await pauseCampaign(ctx.viewer.tenantId, id.id, actor(ctx), reason ?? null);
      const row = await reload(query, id.id);
      sendsInCall.set(row, inCall);
      return row;
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
    description:
      'Stops the campaign for good; recipients not yet sent are skipped. Returns as pauseCampaign does: `sendsInCall` lists any send still in a call with Evolution.',
    authScopes: { operator: true },
    errors: {
      types: [...TRANSITION_ERRORS],
      result: { fields: (r) => ({ sendsInCall: r.field({ type: [SendInCallRef], description: SENDS_IN_CALL, resolve: (row) => sendsInCall.get(row) ?? [] }) }) },
    },
    args: { id: t.arg.globalID({ required: true, for: CampaignRef }) },
    resolve: async (query, _root, { id }, ctx) => {
      const inCall = await cancelCampaign(ctx.viewer.tenantId, id.id, actor(ctx));
      const row = await reload(query, id.id);
      sendsInCall.set(row, inCall);
      return row;
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
