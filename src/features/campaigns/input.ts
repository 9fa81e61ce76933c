import type { Tx } from '../../infra/db/client.js';
import type { AbTestInput, FollowUpInput, PacingInput, SafetyInput, ScheduleInput, WindowInput } from '../../domain/campaign-settings.js';
import { rulesToJson, type SegmentRules } from '../../domain/segment-rules.js';
import { checkTemplate } from '../../domain/template.js';
import type { TemplateChoice } from '../../domain/wa-template.js';
import { checkTemplateChoice, type TemplateCatalog } from './templates.js';
import type { FieldIssue } from '../../domain/errors.js';
import { type CampaignObjective, type MediaType, Prisma, type RotationMode } from '../../generated/prisma/client.js';

// A campaign's input: its shapes, the checks that need the database, and the rows it becomes.

export interface MessageInput {
  /** The message; with `template`, left out (the template's body is stored). */
  text?: string | null;
  /** A WhatsApp Business (Cloud API) message template instead of free text. */
  template?: { name: string; language: string; bodyParams?: string[] | null; headerParams?: string[] | null } | null;
  mediaType?: MediaType | null;
  mediaUrl?: string | null;
  mediaMimetype?: string | null;
  mediaFileName?: string | null;
  abVariant?: string | null;
  abWeight?: number | null;
  /** Replace the URLs of the text with per-recipient short links that count clicks. */
  trackLinks?: boolean | null;
}

export interface AudienceInput {
  all?: boolean | null;
  tags?: { any?: string[] | null; all?: string[] | null; none?: string[] | null } | null;
  segmentId?: string | null;
  rules?: SegmentRules | null;
  contactIds?: string[] | null;
}

export interface FollowUpRuleInput extends FollowUpInput {
  mediaType?: MediaType | null;
  mediaUrl?: string | null;
  mediaMimetype?: string | null;
  mediaFileName?: string | null;
}

/** Everything a campaign is made of; on update, an absent field is left as it is. */
export interface CampaignInput {
  name?: string;
  description?: string | null;
  objective?: CampaignObjective | null;
  rotationMode?: RotationMode | null;
  messages?: MessageInput[] | null;
  audience?: AudienceInput | null;
  instanceIds?: string[] | null;
  schedule?: ScheduleInput | null;
  window?: WindowInput | null;
  pacing?: PacingInput | null;
  safety?: SafetyInput | null;
  abTest?: AbTestInput | null;
  followUps?: FollowUpRuleInput[] | null;
  cost?: number | null;
  /** 1–10, 10 highest (5 when not given): campaigns sharing an instance fill its slots highest first. */
  priority?: number | null;
}

export const P = ['input'] as const;

/** Template variables must be built-in or a custom field the tenant's contacts have; media needs a URL and a kind. */
export async function checkMessages(
  tx: Tx,
  tenantId: string,
  messages: Array<Pick<MessageInput, 'mediaType' | 'mediaUrl' | 'mediaFileName'> & { text: string }>,
  path: Array<string | number>,
  issues: FieldIssue[],
) {
  const tenant = await tx.tenant.findUniqueOrThrow({ where: { id: tenantId }, select: { customFieldKeys: true } });
  messages.forEach((m, i) => {
    for (const p of checkTemplate(m.text, tenant.customFieldKeys)) issues.push({ path: [...path, i, 'text'], message: `${p.variable}: ${p.reason}` });
    if (m.mediaType && !m.mediaUrl) issues.push({ path: [...path, i, 'mediaUrl'], message: 'a media message needs its URL' });
    if (!m.mediaType && m.mediaUrl) issues.push({ path: [...path, i, 'mediaType'], message: 'say which kind of media the URL is' });
    if (m.mediaType === 'DOCUMENT' && m.mediaFileName && !/\.[A-Za-z0-9]{1,8}$/.test(m.mediaFileName)) {
      // Evolution derives the mimetype from the file name's extension.
      issues.push({ path: [...path, i, 'mediaFileName'], message: 'a document file name needs its extension (e.g. boleto.pdf)' });
    }
  });
}

export function templateChoice(t: NonNullable<MessageInput['template']>): TemplateChoice {
  return { name: t.name.trim(), language: t.language.trim(), bodyParams: t.bodyParams ?? [], headerParams: t.headerParams ?? [] };
}

/**
 * A campaign's variations: free text (checked as `checkMessages` does) or a template (checked against
 * the templates of the campaign's WHATSAPP_BUSINESS instances, `catalog`). Returns the text each
 * variation is stored with: its own, or its template's body.
 */
export async function checkVariations(
  tx: Tx,
  tenantId: string,
  messages: MessageInput[],
  catalog: TemplateCatalog,
  path: Array<string | number>,
  issues: FieldIssue[],
): Promise<string[]> {
  await checkMessages(tx, tenantId, messages.map((m) => ({ ...m, text: m.template ? '' : (m.text ?? '') })), path, issues);
  const tenant = await tx.tenant.findUniqueOrThrow({ where: { id: tenantId }, select: { customFieldKeys: true } });
  return messages.map((m, i) => {
    if (!m.template) {
      if (!m.text?.trim()) issues.push({ path: [...path, i, 'text'], message: 'give the text (or a template)' });
      return m.text ?? '';
    }
    if (m.text?.trim()) issues.push({ path: [...path, i, 'text'], message: "a template variation sends the template's own text: leave text out" });
    if (m.mediaType || m.mediaUrl) issues.push({ path: [...path, i, 'mediaUrl'], message: 'a template variation carries no media of its own' });
    if (m.trackLinks) issues.push({ path: [...path, i, 'trackLinks'], message: "a template's links are Meta's: they cannot be tracked" });
    return checkTemplateChoice(templateChoice(m.template), catalog, tenant.customFieldKeys, [...path, i, 'template'], issues) ?? '';
  });
}

export async function checkInstances(tx: Tx, tenantId: string, ids: string[], issues: FieldIssue[]) {
  if (ids.length === 0) return;
  const found = await tx.whatsAppInstance.findMany({ where: { tenantId, id: { in: ids } }, select: { id: true } });
  const known = new Set(found.map((f) => f.id));
  ids.forEach((id, i) => {
    if (!known.has(id)) issues.push({ path: [...P, 'instanceIds', i], message: `no instance ${id}` });
  });
}

export async function audienceColumns(tx: Tx, tenantId: string, a: AudienceInput | null | undefined, issues: FieldIssue[]) {
  const none = { audienceRules: Prisma.DbNull, audienceSegmentId: null, audienceContactIds: [] as string[] };
  if (!a || a.all) return { ...none, audienceType: 'ALL' as const };
  if (a.tags) {
    const rules: SegmentRules = { tags: { any: a.tags.any ?? [], all: a.tags.all ?? [], none: a.tags.none ?? [] } };
    if (!a.tags.any?.length && !a.tags.all?.length && !a.tags.none?.length) issues.push({ path: [...P, 'audience', 'tags'], message: 'give at least one tag' });
    return { ...none, audienceType: 'RULES' as const, audienceRules: rulesToJson(rules) as Prisma.InputJsonValue };
  }
  if (a.rules) return { ...none, audienceType: 'RULES' as const, audienceRules: rulesToJson(a.rules) as Prisma.InputJsonValue };
  if (a.segmentId) {
    const segment = await tx.segment.findFirst({ where: { id: a.segmentId, tenantId }, select: { id: true } });
    if (!segment) issues.push({ path: [...P, 'audience', 'segmentId'], message: `no segment ${a.segmentId}` });
    return { ...none, audienceType: 'SEGMENT' as const, audienceSegmentId: a.segmentId };
  }
  const ids = [...new Set(a.contactIds ?? [])];
  if (ids.length === 0) issues.push({ path: [...P, 'audience', 'contactIds'], message: 'give at least one contact' });
  const found = await tx.contact.count({ where: { tenantId, id: { in: ids } } });
  if (found !== ids.length) issues.push({ path: [...P, 'audience', 'contactIds'], message: `${ids.length - found} of these contacts do not exist` });
  return { ...none, audienceType: 'CONTACTS' as const, audienceContactIds: ids };
}

export function messageRows(
  tenantId: string,
  messages: MessageInput[],
  variants: Array<{ abVariant: string | null; abWeight: number | null }>,
  /** The text each is stored with (checkVariations). */
  texts: string[],
) {
  return messages.map((m, i) => ({
    tenantId,
    order: i,
    text: texts[i] ?? m.text ?? '',
    templateName: m.template ? m.template.name.trim() : null,
    templateLanguage: m.template ? m.template.language.trim() : null,
    templateParams: m.template ? ({ body: m.template.bodyParams ?? [], header: m.template.headerParams ?? [] } as Prisma.InputJsonValue) : Prisma.DbNull,
    mediaType: m.mediaType ?? null,
    mediaUrl: m.mediaUrl ?? null,
    mediaMimetype: m.mediaMimetype ?? null,
    mediaFileName: m.mediaFileName ?? null,
    abVariant: variants[i]?.abVariant ?? null,
    abWeight: variants[i]?.abWeight ?? null,
    trackLinks: m.trackLinks ?? false,
  }));
}

export function followUpRows(tenantId: string, rules: FollowUpRuleInput[]) {
  return rules.map((r, i) => ({
    tenantId,
    step: i + 1,
    afterDays: r.afterDays,
    text: r.text,
    mediaType: r.mediaType ?? null,
    mediaUrl: r.mediaUrl ?? null,
    mediaMimetype: r.mediaMimetype ?? null,
    mediaFileName: r.mediaFileName ?? null,
  }));
}

