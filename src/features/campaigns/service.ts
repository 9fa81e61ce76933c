import { reassignWaitingMessages } from '../recipients/audience.js';
import { prisma, type Tx } from '../../infra/db/client.js';
import { inTransaction } from '../../infra/db/transaction.js';
import { EDITABLE_STATUSES, type CampaignStatus } from '../../domain/campaign-state.js';
import { type AbTestInput, abColumns, followUpIssues, type PacingInput, pacingColumns, overlay, priorityIssues, type SafetyColumns, safetyColumns, safetyInputOf, scheduleColumns, scheduleInputOf, type WindowColumns, windowColumns, windowInputOf } from '../../domain/campaign-settings.js';
import { DEFAULT_PRIORITY } from '../../domain/pacing.js';
import { renderVariation } from '../../domain/wa-template.js';
import { type FieldIssue, InvalidTransitionError, NotFoundError, ValidationError } from '../../domain/errors.js';
import { type MediaType, Prisma } from '../../generated/prisma/client.js';
import { clock } from '../../infra/lib/clock.js';
import { appendLog } from './logs.js';
import { audienceColumns, type CampaignInput, checkInstances, checkMessages, checkVariations, followUpRows, type MessageInput, messageRows, P } from './input.js';
import { loadTemplateCatalog, type TemplateCatalog } from './templates.js';

/** The templates of the campaign's WHATSAPP_BUSINESS instances, read only when a variation is a template. */
async function catalogFor(tenantId: string, messages: MessageInput[] | null | undefined, instanceIds: () => Promise<string[]>): Promise<TemplateCatalog> {
  if (!messages?.some((m) => m.template)) return [];
  return loadTemplateCatalog(tenantId, await instanceIds());
}

export async function createCampaign(tenantId: string, input: CampaignInput & { name: string }, actor: string) {
  const catalog = await catalogFor(tenantId, input.messages, async () => input.instanceIds ?? []);
  return inTransaction(async (tx, after) => {
    const issues: FieldIssue[] = [];
    const messages = input.messages ?? [];
    const texts = await checkVariations(tx, tenantId, messages, catalog, [...P, 'messages'], issues);
    const followUps = input.followUps ?? [];
    followUpIssues(followUps, [...P, 'followUps'], issues);
    await checkMessages(tx, tenantId, followUps, [...P, 'followUps'], issues);
    const instanceIds = [...new Set(input.instanceIds ?? [])];
    await checkInstances(tx, tenantId, instanceIds, issues);
    const audience = await audienceColumns(tx, tenantId, input.audience, issues);
    const window = windowColumns(input.window, [...P, 'window'], issues);
    const pacing = pacingColumns(input.pacing, [...P, 'pacing'], issues);
    const safety = safetyColumns(input.safety, [...P, 'safety'], issues);
    const schedule = scheduleColumns(input.schedule, [...P, 'schedule'], issues);
    const ab = abColumns(input.abTest, messages, [...P, 'abTest'], [...P, 'messages'], issues);
    priorityIssues(input.priority, [...P, 'priority'], issues);
    if (issues.length) throw new ValidationError(issues);

    const campaign = await tx.campaign.create({
      data: {
        tenantId,
        name: input.name,
        description: input.description ?? null,
        objective: input.objective ?? undefined,
        rotationMode: input.rotationMode ?? undefined,
        ...audience,
        ...window,
        ...pacing,
        ...safety,
        ...schedule,
        ...ab.columns,
        cost: input.cost ?? null,
        priority: input.priority ?? DEFAULT_PRIORITY,
        createdBy: actor,
        messages: { create: messageRows(tenantId, messages, ab.variants, texts) },
        instances: { create: instanceIds.map((instanceId) => ({ instanceId, tenantId })) },
        followUpRules: { create: followUpRows(tenantId, followUps) },
      } as Prisma.CampaignUncheckedCreateInput,
    });
    await appendLog(tx, after, {
      tenantId,
      campaignId: campaign.id,
      type: 'CREATED',
      message: `campaign "${campaign.name}" created`,
      details: { variations: messages.length, instances: instanceIds.length, audience: audience.audienceType, followUps: followUps.length },
      actor,
    });
    return campaign;
  });
}

interface LockedRow {
  id: string;
  status: CampaignStatus;
}

async function lockCampaign(tx: Tx, tenantId: string, id: string): Promise<LockedRow> {
  const rows = await tx.$queryRaw<LockedRow[]>`
    SELECT id, status FROM campaign WHERE id = ${id}::uuid AND tenant_id = ${tenantId}::uuid FOR UPDATE`;
  const row = rows[0];
  if (!row) throw new NotFoundError('Campaign', id);
  return row;
}

/**
 * Changes the given settings of a campaign that is not sending (DRAFT, SCHEDULED or PAUSED). Once
 * started, the audience and the A/B split are frozen; new variations are dealt to the recipients still
 * waiting, in rotation.
 */
export async function updateCampaign(tenantId: string, id: string, input: CampaignInput, actor: string) {
  const catalog = await catalogFor(tenantId, input.messages, async () =>
    input.instanceIds ?? (await prisma.campaignInstance.findMany({ where: { campaignId: id, tenantId }, select: { instanceId: true } })).map((l) => l.instanceId),
  );
  return inTransaction(async (tx, after) => {
    const row = await lockCampaign(tx, tenantId, id);
    if (!EDITABLE_STATUSES.includes(row.status)) throw new InvalidTransitionError('campaign', row.status, 'update', EDITABLE_STATUSES);
    const started = row.status === 'PAUSED';
    const issues: FieldIssue[] = [];
    const data: Record<string, unknown> = {};
    const changed: string[] = [];
    const set = (key: string, value: unknown) => {
      data[key] = value;
      changed.push(key);
    };

    const current = await tx.campaign.findUniqueOrThrow({ where: { id }, include: { messages: { orderBy: { order: 'asc' } } } });
    if (input.name !== undefined) set('name', input.name);
    if (input.description !== undefined) set('description', input.description);
    if (input.objective) set('objective', input.objective);
    if (input.rotationMode) set('rotationMode', input.rotationMode);
    if (input.cost !== undefined) set('cost', input.cost);
    if (input.priority !== undefined) {
      priorityIssues(input.priority, [...P, 'priority'], issues);
      set('priority', input.priority ?? DEFAULT_PRIORITY);
    }
    const setAll = (group: string, values: object) => {
      Object.assign(data, values);
      changed.push(group);
    };
    if (input.audience !== undefined) {
      if (started) issues.push({ path: [...P, 'audience'], message: 'the audience was frozen when the campaign started' });
      else setAll('audience', await audienceColumns(tx, tenantId, input.audience, issues));
    }
    // Groups change field by field: a field left out keeps its value, null clears it.
    if (input.window !== undefined) {
      setAll('window', windowColumns(overlay(windowInputOf(current as WindowColumns), input.window), [...P, 'window'], issues));
    }
    if (input.pacing !== undefined) setAll('pacing', pacingColumns(overlay(current as PacingInput, input.pacing), [...P, 'pacing'], issues));
    if (input.safety !== undefined) {
      // A started (now paused) campaign's expiry counts from its start.
      const safety = safetyColumns(overlay(safetyInputOf(current as SafetyColumns), input.safety), [...P, 'safety'], issues);
      setAll('safety', started ? { ...safety, expiresAt: expiryFrom(current.startedAt, safety.expireAfterMinutes) } : safety);
    }
    if (input.schedule !== undefined) {
      if (started) issues.push({ path: [...P, 'schedule'], message: 'a started campaign has no schedule to change' });
      else setAll('schedule', scheduleColumns(overlay(scheduleInputOf(current), input.schedule), [...P, 'schedule'], issues));
    }
    let instanceIds: string[] | null = null;
    if (input.instanceIds !== undefined && input.instanceIds !== null) {
      instanceIds = [...new Set(input.instanceIds)];
      await checkInstances(tx, tenantId, instanceIds, issues);
    }
    let messages: MessageInput[] | null = null;
    let texts: string[] = [];
    let variants: Array<{ abVariant: string | null; abWeight: number | null }> = [];
    if (input.messages !== undefined && input.messages !== null) {
      messages = input.messages;
      texts = await checkVariations(tx, tenantId, messages, catalog, [...P, 'messages'], issues);
    }
    if (input.abTest !== undefined && started) issues.push({ path: [...P, 'abTest'], message: 'the A/B split was made when the campaign started' });
    if (messages && started && current.abEnabled) issues.push({ path: [...P, 'messages'], message: 'the variations of a started A/B test cannot change' });
    if (input.abTest !== undefined || messages) {
      const abInput: AbTestInput = {
        enabled: current.abEnabled,
        testShare: current.abTestShare,
        metric: current.abMetric,
        minSample: current.abMinSample,
        significance: current.abSignificance,
        autoWinner: current.abAutoWinner,
      };
      const ab = abColumns(
        input.abTest === undefined
          ? abInput
          : overlay(abInput, input.abTest),
        messages ?? current.messages,
        [...P, 'abTest'],
        [...P, 'messages'],
        issues,
      );
      if (input.abTest !== undefined) setAll('abTest', ab.columns);
      variants = ab.variants;
      if (!messages && input.abTest !== undefined) {
        // Relabel the existing variations for the new A/B settings.
        for (const [i, m] of current.messages.entries()) {
          await tx.campaignMessage.update({ where: { id: m.id }, data: { abVariant: variants[i]?.abVariant ?? null, abWeight: variants[i]?.abWeight ?? null } });
        }
      }
    }
    if (input.followUps !== undefined && input.followUps !== null) {
      followUpIssues(input.followUps, [...P, 'followUps'], issues);
      await checkMessages(tx, tenantId, input.followUps, [...P, 'followUps'], issues);
    }
    if (issues.length) throw new ValidationError(issues);

    if (changed.length) await tx.campaign.update({ where: { id }, data: data as Prisma.CampaignUncheckedUpdateInput });
    if (instanceIds) {
      await tx.campaignInstance.deleteMany({ where: { campaignId: id, instanceId: { notIn: instanceIds } } });
      await tx.campaignInstance.createMany({ data: instanceIds.map((instanceId) => ({ campaignId: id, instanceId, tenantId })), skipDuplicates: true });
      changed.push('instances');
    }
    if (messages) {
      const created = await tx.campaignMessage.createManyAndReturn({
        data: messageRows(tenantId, messages, variants, texts).map((m) => ({ ...m, campaignId: id })),
        select: { id: true },
      });
      if (started) {
        // Recipients still waiting get the new variations, in rotation.
        await reassignWaitingMessages(tx, id, created.map((c) => c.id));
      }
      await tx.campaignMessage.deleteMany({ where: { campaignId: id, id: { notIn: created.map((c) => c.id) } } });
      changed.push('messages');
    }
    if (input.followUps !== undefined && input.followUps !== null) {
      await tx.followUpRule.deleteMany({ where: { campaignId: id } });
      await tx.followUpRule.createMany({ data: followUpRows(tenantId, input.followUps).map((r) => ({ ...r, campaignId: id })) });
      changed.push('followUps');
    }
    if (changed.length) {
      await tx.$executeRaw`UPDATE campaign SET version = version + 1, updated_at = now() WHERE id = ${id}::uuid`;
      await appendLog(tx, after, { tenantId, campaignId: id, type: 'UPDATED', message: `campaign updated: ${changed.join(', ')}`, details: { changed }, actor });
    }
    return tx.campaign.findUniqueOrThrow({ where: { id } });
  });
}

/** Deletes a draft (the log stays: it is the audit trail). */
export async function deleteCampaign(tenantId: string, id: string, actor: string) {
  return inTransaction(async (tx, after) => {
    const row = await lockCampaign(tx, tenantId, id);
    if (row.status !== 'DRAFT') throw new InvalidTransitionError('campaign', row.status, 'delete', ['DRAFT']);
    await tx.campaign.delete({ where: { id } });
    await appendLog(tx, after, { tenantId, campaignId: id, type: 'CANCELLED', message: 'draft deleted', details: { deleted: true }, actor });
    return id;
  });
}

/** A campaign with what a copy of it needs (see `campaignCopy`). */
export const COPY_INCLUDE = {
  messages: { orderBy: [{ order: 'asc' }, { createdAt: 'asc' }] },
  instances: { orderBy: { addedAt: 'asc' } },
  followUpRules: { orderBy: { step: 'asc' } },
} satisfies Prisma.CampaignInclude;

type CopySource = Prisma.CampaignGetPayload<{ include: typeof COPY_INCLUDE }>;

/**
 * The create input of a copy of `source`: every setting, variation, instance and follow-up, as a new
 * DRAFT (a duplicate) unless `overrides` says otherwise (a recurring campaign's next occurrence).
 * Counters, status history and A/B results are the copy's own.
 */
export function campaignCopy(source: CopySource, overrides: Partial<Prisma.CampaignUncheckedCreateInput>): Prisma.CampaignUncheckedCreateInput {
  const { tenantId } = source;
  return {
    tenantId,
    name: source.name,
    description: source.description,
    objective: source.objective,
    rotationMode: source.rotationMode,
    audienceType: source.audienceType,
    audienceSegmentId: source.audienceSegmentId,
    audienceRules: source.audienceRules ?? Prisma.DbNull,
    audienceContactIds: source.audienceContactIds,
    recurrence: source.recurrence,
    recurrenceInterval: source.recurrenceInterval,
    recurrenceEndAfter: source.recurrenceEndAfter,
    recurrenceEndAt: source.recurrenceEndAt,
    windowStartMinute: source.windowStartMinute,
    windowEndMinute: source.windowEndMinute,
    windowWeekdays: source.windowWeekdays,
    respectHolidays: source.respectHolidays,
    holidayCountry: source.holidayCountry,
    holidayRegion: source.holidayRegion,
    timezoneMode: source.timezoneMode,
    minDelayMs: source.minDelayMs,
    maxDelayMs: source.maxDelayMs,
    maxAttempts: source.maxAttempts,
    errorThreshold: source.errorThreshold,
    limitPerMinute: source.limitPerMinute,
    limitPerHour: source.limitPerHour,
    limitPerDay: source.limitPerDay,
    priority: source.priority,
    typingDelayMs: source.typingDelayMs,
    abEnabled: source.abEnabled,
    abTestShare: source.abTestShare,
    abMetric: source.abMetric,
    abMinSample: source.abMinSample,
    abSignificance: source.abSignificance,
    abAutoWinner: source.abAutoWinner,
    cost: source.cost,
    messages: {
      create: source.messages.map(({ id: _i, campaignId: _c, createdAt: _a, updatedAt: _u, templateParams, ...m }) => ({
        ...m,
        templateParams: templateParams ?? Prisma.DbNull,
      })),
    },
    instances: { create: source.instances.map((l) => ({ instanceId: l.instanceId, tenantId })) },
    followUpRules: { create: source.followUpRules.map(({ id: _i, campaignId: _c, createdAt: _a, ...r }) => r) },
    ...overrides,
  };
}

/** A new DRAFT with the same settings, variations, instances and follow-ups. */
export async function duplicateCampaign(tenantId: string, id: string, actor: string, name?: string | null) {
  return inTransaction(async (tx, after) => {
    const source = await tx.campaign.findFirst({ where: { id, tenantId }, include: COPY_INCLUDE });
    if (!source) throw new NotFoundError('Campaign', id);
    const copy = await tx.campaign.create({ data: campaignCopy(source, { name: name ?? `${source.name} (copy)`, createdBy: actor }) });
    await appendLog(tx, after, {
      tenantId,
      campaignId: copy.id,
      type: 'CREATED',
      message: `campaign duplicated from "${source.name}"`,
      details: { duplicatedFrom: source.id },
      actor,
    });
    return copy;
  });
}

export interface MessagePreview {
  messageId: string;
  order: number;
  abVariant: string | null;
  text: string;
  mediaType: MediaType | null;
  mediaUrl: string | null;
  mediaMimetype: string | null;
  mediaFileName: string | null;
  /** True when the campaign started and this is the variation frozen for the contact. */
  assigned: boolean;
}

/**
 * What `contactId` would receive now: its frozen variation once the campaign started, otherwise the
 * given variation (or the first), rendered by the same code that renders the send.
 */
export async function previewMessage(tenantId: string, campaignId: string, contactId: string, messageId?: string | null): Promise<MessagePreview> {
  const campaign = await prisma.campaign.findFirst({
    where: { id: campaignId, tenantId },
    select: { id: true, messages: { orderBy: { order: 'asc' } }, tenant: { select: { timezone: true } } },
  });
  if (!campaign) throw new NotFoundError('Campaign', campaignId);
  const contact = await prisma.contact.findFirst({ where: { id: contactId, tenantId } });
  if (!contact) throw new NotFoundError('Contact', contactId);
  const recipient = await prisma.recipient.findUnique({ where: { campaignId_contactId: { campaignId, contactId } }, select: { messageId: true } });
  const chosen = messageId ?? recipient?.messageId ?? campaign.messages[0]?.id;
  const message = campaign.messages.find((m) => m.id === chosen);
  if (!message) throw chosen ? new NotFoundError('CampaignMessage', chosen) : ValidationError.field(['campaignId'], 'the campaign has no message variation');
  const { text } = renderVariation(
    message,
    {
      name: contact.name,
      phone: contact.phone,
      referredBy: contact.referredBy,
      customFields: (contact.customFields ?? {}) as Record<string, unknown>,
      timezone: contact.timezone ?? campaign.tenant.timezone,
    },
    clock.now(),
  );
  return {
    messageId: message.id,
    order: message.order,
    abVariant: message.abVariant,
    text,
    mediaType: message.mediaType,
    mediaUrl: message.mediaUrl,
    mediaMimetype: message.mediaMimetype,
    mediaFileName: message.mediaFileName,
    assigned: recipient?.messageId === message.id,
  };
}

export async function findCampaign(tenantId: string, id: string) {
  const c = await prisma.campaign.findFirst({ where: { id, tenantId }, select: { id: true } });
  if (!c) throw new NotFoundError('Campaign', id);
  return c;
}

function expiryFrom(startedAt: Date | null, minutes: number | null): Date | null {
  return startedAt && minutes !== null ? new Date(startedAt.getTime() + minutes * 60_000) : null;
}
