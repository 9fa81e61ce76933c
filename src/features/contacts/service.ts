import { recount } from '../campaigns/counter-sql.js';
import { bumpCampaign, type CounterDeltas } from '../campaigns/progress.js';
import { prisma } from '../../infra/db/client.js';
import { inTransaction } from '../../infra/db/transaction.js';
import { COUNTER_KEYS, type Counts } from '../../domain/counters.js';
import { normalizePhone } from '../../domain/phone.js';
import { parseStoredRules, type SegmentRules } from '../../domain/segment-rules.js';
import { withdrawContacts } from '../recipients/audience.js';
import { changeConsent } from './consent.js';
import { ConflictError, type FieldIssue, NotFoundError, ValidationError } from '../../domain/errors.js';
import { Prisma } from '../../generated/prisma/client.js';
import { isUuid, NO_ID } from '../../infra/lib/uuid.js';
import { rulesSql } from '../segments/sql.js';
import { type ContactRowInput, type MergeStrategy, type RowResult, upsertContactRows } from './upsert.js';

export async function tenantRegion(tenantId: string): Promise<string> {
  const t = await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId }, select: { country: true } });
  return t.country;
}

/** One contact, created or merged by phone; an invalid field is a ValidationError naming it. */
export async function upsertContact(tenantId: string, input: ContactRowInput, strategy: MergeStrategy = 'UPDATE', actor: string | null = null) {
  const consent = { source: 'API' as const, detail: actor ? { actor } : {} };
  const [result] = await upsertContactRows(tenantId, [{ row: 1, input }], { strategy, region: await tenantRegion(tenantId), consent });
  if (!result) throw new Error('no row result');
  if (result.status === 'FAILED') {
    throw ValidationError.field(['input', result.field ?? 'phone'], `${result.reason}${result.input !== null ? ` (given: ${result.input})` : ''}`);
  }
  const contact = await prisma.contact.findFirst({ where: { tenantId, phone: result.phone as string } });
  if (!contact) throw new Error('contact vanished');
  return { contact, status: result.status };
}

export interface ContactSelection {
  ids?: string[] | null;
  phones?: string[] | null;
}

/**
 * The contacts a selection names, all of them or an error: a malformed phone is a ValidationError at
 * its position (under `path`), a contact that does not exist in this tenant a NotFoundError naming
 * every missing one. Another tenant's contact is not found, like one that never existed.
 */
export async function resolveContacts(tenantId: string, ref: ContactSelection, path: Array<string | number> = ['contacts']): Promise<string[]> {
  if (!ref.ids?.length && !ref.phones?.length) throw ValidationError.field(path, 'give ids or phones');
  const issues: FieldIssue[] = [];
  const wanted: Array<{ i: number; e164: string }> = [];
  if (ref.phones?.length) {
    const region = await tenantRegion(tenantId);
    ref.phones.forEach((p, i) => {
      const n = normalizePhone(p, region);
      if (n.ok) wanted.push({ i, e164: n.e164 });
      else issues.push({ path: [...path, 'phones', i], message: `${n.reason} (given: ${p})` });
    });
  }
  if (issues.length) throw new ValidationError(issues);
  const ids = new Set<string>();
  const missing: string[] = [];
  if (ref.ids?.length) {
    const valid = ref.ids.filter(isUuid);
    const found = valid.length ? await prisma.contact.findMany({ where: { tenantId, id: { in: valid } }, select: { id: true } }) : [];
    const known = new Set(found.map((f) => f.id));
    for (const id of ref.ids) (known.has(id) ? ids.add(id) : missing.push(id));
  }
  if (wanted.length) {
    const found = await prisma.contact.findMany({ where: { tenantId, phone: { in: wanted.map((w) => w.e164) } }, select: { id: true, phone: true } });
    const byPhone = new Map(found.map((f) => [f.phone, f.id]));
    for (const w of wanted) {
      const id = byPhone.get(w.e164);
      if (id) ids.add(id);
      else missing.push(w.e164);
    }
  }
  if (missing.length) {
    const err = new NotFoundError('Contact', missing[0] as string);
    err.message = `no contact ${missing.join(', ')} in this tenant`;
    throw err;
  }
  return [...ids];
}

export async function tagContacts(tenantId: string, ref: ContactSelection, tags: string[], remove = false) {
  const ids = await resolveContacts(tenantId, ref);
  const n = remove
    ? await prisma.$executeRaw`
        UPDATE contact SET tags = ARRAY(SELECT t FROM unnest(tags) AS t WHERE NOT t = ANY(${tags}::text[])), updated_at = now()
        WHERE tenant_id = ${tenantId}::uuid AND id = ANY(${ids}::uuid[]) AND tags && ${tags}::text[]`
    : await prisma.$executeRaw`
        UPDATE contact SET tags = ARRAY(SELECT DISTINCT t FROM unnest(tags || ${tags}::text[]) AS t ORDER BY t), updated_at = now()
        WHERE tenant_id = ${tenantId}::uuid AND id = ANY(${ids}::uuid[]) AND NOT (tags @> ${tags}::text[])`;
  return { matched: ids.length, changed: n, ids };
}

export async function setContactFlag(tenantId: string, ref: ContactSelection, flag: 'optOut' | 'optIn' | 'block' | 'unblock', actor: string) {
  const ids = await resolveContacts(tenantId, ref);
  return inTransaction(async (tx, after) => {
    let changed: number;
    if (flag === 'optOut' || flag === 'optIn') {
      // Consent changes are recorded with their source (consent_event); only contacts whose consent changes count.
      changed = (await changeConsent(tx, tenantId, ids, flag === 'optIn' ? 'OPT_IN' : 'OPT_OUT', 'API', { actor })).length;
    } else {
      const [set, unchanged] = flag === 'block' ? [Prisma.sql`blocked = true`, Prisma.sql`blocked`] : [Prisma.sql`blocked = false`, Prisma.sql`NOT blocked`];
      changed = await tx.$executeRaw`
        UPDATE contact SET ${set}, updated_at = now()
        WHERE tenant_id = ${tenantId}::uuid AND id = ANY(${ids}::uuid[]) AND NOT (${unchanged})`;
    }
    // Every selected contact is withdrawn, changed or not: none of them may receive from now on.
    const skipped =
      flag === 'optOut' || flag === 'block'
        ? await withdrawContacts(tx, after, tenantId, ids, flag === 'optOut' ? 'OPTED_OUT' : 'BLOCKED', flag === 'optOut' ? 'contact opted out' : 'contact blocked', actor)
        : 0;
    return { matched: ids.length, changed, skippedRecipients: skipped, ids };
  });
}

/**
 * Deletes contacts with their campaign history (their recipients go with them, by cascade). Waiting
 * recipients are skipped first and logged; then every campaign's counters lose exactly what was
 * deleted, so they stay a recount. A contact being sent to at this moment is refused: that send's
 * outcome must land on its recipient.
 */
export async function deleteContacts(tenantId: string, ref: ContactSelection, actor: string) {
  const ids = await resolveContacts(tenantId, ref);
  return inTransaction(async (tx, after) => {
    // Recipients first, in a fixed order, as every other writer locks them before their campaign.
    await tx.$queryRaw`SELECT id FROM recipient WHERE tenant_id = ${tenantId}::uuid AND contact_id = ANY(${ids}::uuid[]) ORDER BY id FOR UPDATE`;
    await withdrawContacts(tx, after, tenantId, ids, 'CONTACT_DELETED', 'contact deleted', actor);
    const removed = await tx.$queryRaw<Array<Counts & { campaign_id: string; sending: number }>>`
      SELECT campaign_id, ${recount(COUNTER_KEYS)}, count(*) FILTER (WHERE status = 'SENDING')::int AS sending
      FROM recipient WHERE tenant_id = ${tenantId}::uuid AND contact_id = ANY(${ids}::uuid[])
      GROUP BY campaign_id ORDER BY campaign_id`;
    const sending = removed.reduce((n, r) => n + r.sending, 0);
    if (sending > 0) throw new ConflictError(`a message to ${sending} of these contacts is being sent right now; retry in a moment`, 'contacts');
    const deleted = await tx.$executeRaw`DELETE FROM contact WHERE tenant_id = ${tenantId}::uuid AND id = ANY(${ids}::uuid[])`;
    for (const { campaign_id, sending: _s, ...counts } of removed) {
      const deltas = Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, -v])) as CounterDeltas;
      await bumpCampaign(tx, after, campaign_id, deltas);
    }
    return { deleted, ids };
  });
}

export interface ContactFilter {
  search?: string | null;
  tags?: string[] | null;
  tagsAll?: string[] | null;
  optedOut?: boolean | null;
  blocked?: boolean | null;
  notOnWhatsapp?: boolean | null;
  createdAfter?: Date | null;
  createdBefore?: Date | null;
  segmentId?: string | null;
  rules?: SegmentRules | null;
}

export type ContactOrderField = 'CREATED_AT' | 'NAME' | 'PHONE' | 'LAST_INTERACTION_AT';

const ORDER_COLUMN: Record<ContactOrderField, string> = {
  CREATED_AT: 'c.created_at',
  NAME: 'c.name',
  PHONE: 'c.phone',
  LAST_INTERACTION_AT: 'c.last_interaction_at',
};

function escapeLike(s: string) {
  return s.replace(/[\\%_]/g, (m) => `\\${m}`);
}

export async function contactFilterSql(tenantId: string, f: ContactFilter | null | undefined): Promise<Prisma.Sql> {
  const parts: Prisma.Sql[] = [Prisma.sql`c.tenant_id = ${tenantId}::uuid`];
  if (f?.search?.trim()) {
    const q = `%${escapeLike(f.search.trim())}%`;
    const digits = f.search.replace(/\D/g, '');
    parts.push(
      Prisma.sql`(c.name ILIKE ${q} OR c.email ILIKE ${q}${digits.length >= 3 ? Prisma.sql` OR c.phone LIKE ${`%${digits}%`}` : Prisma.empty})`,
    );
  }
  if (f?.tags?.length) parts.push(Prisma.sql`c.tags && ${f.tags}::text[]`);
  if (f?.tagsAll?.length) parts.push(Prisma.sql`c.tags @> ${f.tagsAll}::text[]`);
  if (typeof f?.optedOut === 'boolean') parts.push(Prisma.sql`c.opted_out = ${f.optedOut}`);
  if (typeof f?.blocked === 'boolean') parts.push(Prisma.sql`c.blocked = ${f.blocked}`);
  if (typeof f?.notOnWhatsapp === 'boolean') parts.push(Prisma.sql`c.not_on_whatsapp = ${f.notOnWhatsapp}`);
  if (f?.createdAfter) parts.push(Prisma.sql`c.created_at >= ${f.createdAfter}`);
  if (f?.createdBefore) parts.push(Prisma.sql`c.created_at < ${f.createdBefore}`);
  if (f?.rules) parts.push(rulesSql(f.rules));
  if (f?.segmentId) {
    const segment = await prisma.segment.findFirst({ where: { id: isUuid(f.segmentId) ? f.segmentId : NO_ID, tenantId }, select: { rules: true } });
    if (!segment) throw new NotFoundError('Segment', f.segmentId);
    parts.push(rulesSql(parseStoredRules(segment.rules)));
  }
  return Prisma.join(parts, ' AND ');
}

/** A page of contacts (offset pagination), filtered and ordered in SQL. */
export async function searchContacts(
  tenantId: string,
  filter: ContactFilter | null | undefined,
  order: { field: ContactOrderField; direction: 'ASC' | 'DESC' },
  page: { offset: number; limit: number },
) {
  const where = await contactFilterSql(tenantId, filter);
  const column = Prisma.raw(ORDER_COLUMN[order.field]);
  const dir = Prisma.raw(order.direction === 'DESC' ? 'DESC NULLS LAST' : 'ASC NULLS LAST');
  const rows = await prisma.$queryRaw<Array<{ id: string }>>`
    SELECT c.id FROM contact c WHERE ${where} ORDER BY ${column} ${dir}, c.id ${Prisma.raw(order.direction)} OFFSET ${page.offset} LIMIT ${page.limit}`;
  const contacts = await prisma.contact.findMany({ where: { id: { in: rows.map((r) => r.id) } } });
  const byId = new Map(contacts.map((c) => [c.id, c]));
  return rows.map((r) => byId.get(r.id)).filter((c): c is NonNullable<typeof c> => c !== undefined);
}

export async function countContacts(tenantId: string, filter: ContactFilter | null | undefined) {
  const where = await contactFilterSql(tenantId, filter);
  const [row] = await prisma.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM contact c WHERE ${where}`;
  return row?.n ?? 0;
}

export type { RowResult };
