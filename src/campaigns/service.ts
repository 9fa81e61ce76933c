import { inTransaction } from '../db/transaction.js';
import { prisma, type Tx } from '../db/client.js';
import { checkTemplate } from '../domain/template.js';
import { type FieldIssue, NotFoundError, ValidationError } from '../errors.js';
import type { CampaignObjective, MediaType, RotationMode } from '../generated/prisma/client.js';
import { appendLog } from './logs.js';

export interface MessageInput {
  text: string;
  mediaType?: MediaType | null;
  mediaUrl?: string | null;
  mediaMimetype?: string | null;
  mediaFileName?: string | null;
  abVariant?: string | null;
  abWeight?: number | null;
}

export interface AudienceInput {
  all?: boolean | null;
  tags?: { any?: string[] | null; all?: string[] | null; none?: string[] | null } | null;
  segmentId?: string | null;
  contactIds?: string[] | null;
}

export interface CreateCampaignInput {
  name: string;
  description?: string | null;
  objective?: CampaignObjective | null;
  rotationMode?: RotationMode | null;
  messages?: MessageInput[] | null;
  audience?: AudienceInput | null;
  instanceIds?: string[] | null;
  minDelayMs?: number | null;
  maxDelayMs?: number | null;
  maxAttempts?: number | null;
  errorThreshold?: number | null;
}

/** Template variables must be built-in or a custom field the tenant's contacts have. */
export async function checkMessages(tx: Tx, tenantId: string, messages: MessageInput[], path: Array<string | number>) {
  const tenant = await tx.tenant.findUniqueOrThrow({ where: { id: tenantId }, select: { customFieldKeys: true } });
  const issues: FieldIssue[] = [];
  messages.forEach((m, i) => {
    for (const p of checkTemplate(m.text, tenant.customFieldKeys)) issues.push({ path: [...path, i, 'text'], message: `${p.variable}: ${p.reason}` });
    if (m.mediaType && !m.mediaUrl) issues.push({ path: [...path, i, 'mediaUrl'], message: 'a media message needs its URL' });
    if (!m.mediaType && m.mediaUrl) issues.push({ path: [...path, i, 'mediaType'], message: 'say which kind of media the URL is' });
  });
  if (issues.length) throw new ValidationError(issues);
}

async function checkInstances(tx: Tx, tenantId: string, ids: string[], path: Array<string | number>) {
  if (ids.length === 0) return;
  const found = await tx.whatsAppInstance.findMany({ where: { tenantId, id: { in: ids } }, select: { id: true } });
  const known = new Set(found.map((f) => f.id));
  const missing = ids.filter((id) => !known.has(id));
  if (missing.length) throw new ValidationError(missing.map((id) => ({ path: [...path, ids.indexOf(id)], message: `no instance ${id}` })));
}

export function audienceColumns(a: AudienceInput | null | undefined) {
  if (!a || a.all) return { audienceType: 'ALL' as const, audienceRules: undefined, audienceSegmentId: null, audienceContactIds: [] };
  if (a.tags) {
    return {
      audienceType: 'RULES' as const,
      audienceRules: { tagsAny: a.tags.any ?? [], tagsAll: a.tags.all ?? [], tagsNone: a.tags.none ?? [] },
      audienceSegmentId: null,
      audienceContactIds: [],
    };
  }
  if (a.segmentId) return { audienceType: 'SEGMENT' as const, audienceRules: undefined, audienceSegmentId: a.segmentId, audienceContactIds: [] };
  return { audienceType: 'CONTACTS' as const, audienceRules: undefined, audienceSegmentId: null, audienceContactIds: a.contactIds ?? [] };
}

export async function createCampaign(tenantId: string, input: CreateCampaignInput, actor: string) {
  return inTransaction(async (tx, after) => {
    const messages = input.messages ?? [];
    await checkMessages(tx, tenantId, messages, ['input', 'messages']);
    const instanceIds = [...new Set(input.instanceIds ?? [])];
    await checkInstances(tx, tenantId, instanceIds, ['input', 'instanceIds']);
    const audience = audienceColumns(input.audience);
    if (audience.audienceSegmentId) {
      const segment = await tx.segment.findFirst({ where: { id: audience.audienceSegmentId, tenantId }, select: { id: true } });
      if (!segment) throw ValidationError.field(['input', 'audience', 'segmentId'], `no segment ${audience.audienceSegmentId}`);
    }
    const campaign = await tx.campaign.create({
      data: {
        tenantId,
        name: input.name,
        description: input.description ?? null,
        objective: input.objective ?? undefined,
        rotationMode: input.rotationMode ?? undefined,
        ...audience,
        minDelayMs: input.minDelayMs ?? null,
        maxDelayMs: input.maxDelayMs ?? null,
        maxAttempts: input.maxAttempts ?? undefined,
        errorThreshold: input.errorThreshold ?? undefined,
        createdBy: actor,
        messages: {
          create: messages.map((m, i) => ({
            tenantId,
            order: i,
            text: m.text,
            mediaType: m.mediaType ?? null,
            mediaUrl: m.mediaUrl ?? null,
            mediaMimetype: m.mediaMimetype ?? null,
            mediaFileName: m.mediaFileName ?? null,
            abVariant: m.abVariant ?? null,
            abWeight: m.abWeight ?? null,
          })),
        },
        instances: { create: instanceIds.map((instanceId) => ({ instanceId, tenantId })) },
      },
    });
    await appendLog(tx, after, {
      tenantId,
      campaignId: campaign.id,
      type: 'CREATED',
      message: `campaign "${campaign.name}" created`,
      details: { variations: messages.length, instances: instanceIds.length, audience: audience.audienceType },
      actor,
    });
    return campaign;
  });
}

export async function findCampaign(tenantId: string, id: string) {
  const c = await prisma.campaign.findFirst({ where: { id, tenantId }, select: { id: true } });
  if (!c) throw new NotFoundError('Campaign', id);
  return c;
}
