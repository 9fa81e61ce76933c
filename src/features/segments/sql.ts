import type { EngagementMetric, SegmentRules } from '../../domain/segment-rules.js';
import { Prisma } from '../../generated/prisma/client.js';

/**
 * Segment rules as a SQL predicate over `contact c`. Values are always bound parameters; only column
 * and operator names (from closed lists) are written into the SQL text.
 */
const COMPARE: Record<'gt' | 'gte' | 'lt' | 'lte', string> = { gt: '>', gte: '>=', lt: '<', lte: '<=' };

const ENGAGEMENT_COLUMN: Record<EngagementMetric, string> = {
  SENT: 'r.sent_at',
  DELIVERED: 'r.delivered_at',
  READ: 'r.read_at',
  REPLIED: 'r.replied_at',
  CLICKED: 'r.clicked_at',
};

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (m) => `\\${m}`);
}

type Scalar = string | number | boolean;

/**
 * The JSON forms a value matches. CSV imports store every cell as text, so a number or boolean also
 * matches its text ("30", "true"), and a text that is exactly a number or boolean matches that too.
 */
function jsonForms(v: Scalar): string[] {
  const forms = new Set([JSON.stringify(v)]);
  if (typeof v !== 'string') forms.add(JSON.stringify(String(v)));
  else if (v === 'true' || v === 'false') forms.add(v);
  else if (v.trim() !== '' && Number.isFinite(Number(v)) && String(Number(v)) === v) forms.add(v);
  return [...forms];
}

const NUMERIC_TEXT = '^\\s*-?[0-9]+(\\.[0-9]+)?\\s*$';

/** The field as a number when it is one, or a text that reads as one (CSV); NULL otherwise. */
function numericSql(f: string): Prisma.Sql {
  return Prisma.sql`(CASE jsonb_typeof(c.custom_fields -> ${f})
    WHEN 'number' THEN (c.custom_fields ->> ${f})::numeric
    WHEN 'string' THEN CASE WHEN (c.custom_fields ->> ${f}) ~ ${NUMERIC_TEXT} THEN (c.custom_fields ->> ${f})::numeric END
  END)`;
}

function equalsSql(f: string, v: Scalar): Prisma.Sql {
  // Containment uses the GIN index on custom_fields.
  const forms = jsonForms(v).map((j) => Prisma.sql`c.custom_fields @> jsonb_build_object(${f}::text, ${j}::jsonb)`);
  return Prisma.sql`(${Prisma.join(forms, ' OR ')})`;
}

function customFieldSql(c: NonNullable<SegmentRules['customFields']>[number]): Prisma.Sql {
  const f = c.field;
  switch (c.op) {
    case 'exists':
      return Prisma.sql`jsonb_exists(c.custom_fields, ${f})`;
    case 'not_exists':
      return Prisma.sql`NOT jsonb_exists(c.custom_fields, ${f})`;
    case 'eq':
      return equalsSql(f, c.value as Scalar);
    case 'neq':
      return Prisma.sql`NOT ${equalsSql(f, c.value as Scalar)}`;
    case 'in':
      return Prisma.sql`(c.custom_fields -> ${f}) = ANY(${(c.value as Scalar[]).flatMap(jsonForms)}::jsonb[])`;
    case 'contains':
      return Prisma.sql`(c.custom_fields ->> ${f}) ILIKE ${`%${escapeLike(String(c.value))}%`}`;
    default: {
      const op = Prisma.raw(COMPARE[c.op]);
      if (typeof c.value === 'number') return Prisma.sql`${numericSql(f)} ${op} ${c.value}`;
      return Prisma.sql`(jsonb_typeof(c.custom_fields -> ${f}) = 'string' AND (c.custom_fields ->> ${f}) COLLATE "C" ${op} ${String(c.value)})`;
    }
  }
}

function engagementSql(e: NonNullable<SegmentRules['engagement']>[number], now: Date): Prisma.Sql {
  const column = Prisma.raw(ENGAGEMENT_COLUMN[e.metric]);
  const since = e.withinDays ? Prisma.sql` AND ${column} >= ${new Date(now.getTime() - e.withinDays * 86_400_000)}` : Prisma.empty;
  const count = Prisma.sql`(SELECT count(*) FROM recipient r WHERE r.contact_id = c.id AND ${column} IS NOT NULL${since})`;
  const op = Prisma.raw(e.op === 'gte' ? '>=' : e.op === 'lte' ? '<=' : '=');
  return Prisma.sql`${count} ${op} ${e.count}`;
}

export function rulesSql(rules: SegmentRules, now: Date = new Date()): Prisma.Sql {
  const parts: Prisma.Sql[] = [];
  const t = rules.tags;
  if (t?.any?.length) parts.push(Prisma.sql`c.tags && ${t.any}::text[]`);
  if (t?.all?.length) parts.push(Prisma.sql`c.tags @> ${t.all}::text[]`);
  if (t?.none?.length) parts.push(Prisma.sql`NOT (c.tags && ${t.none}::text[])`);
  for (const cf of rules.customFields ?? []) parts.push(customFieldSql(cf));
  const li = rules.lastInteraction;
  if (li?.before) parts.push(Prisma.sql`c.last_interaction_at < ${li.before}`);
  if (li?.after) parts.push(Prisma.sql`c.last_interaction_at > ${li.after}`);
  if (li?.withinDays) parts.push(Prisma.sql`c.last_interaction_at >= ${new Date(now.getTime() - li.withinDays * 86_400_000)}`);
  if (li?.notWithinDays) {
    parts.push(Prisma.sql`(c.last_interaction_at IS NULL OR c.last_interaction_at < ${new Date(now.getTime() - li.notWithinDays * 86_400_000)})`);
  }
  for (const e of rules.engagement ?? []) parts.push(engagementSql(e, now));
  if (rules.createdWithinDays) parts.push(Prisma.sql`c.created_at >= ${new Date(now.getTime() - rules.createdWithinDays * 86_400_000)}`);
  return parts.length ? Prisma.join(parts, ' AND ') : Prisma.sql`TRUE`;
}

/**
 * Contacts of `tenantId` that may receive messages at all: not opted out, blocked or without WhatsApp,
 * and opted in where the tenant requires it (read once per statement).
 */
export function reachableSql(tenantId: string): Prisma.Sql {
  return Prisma.sql`NOT c.opted_out AND NOT c.blocked AND NOT c.not_on_whatsapp
    AND (c.opted_in_at IS NOT NULL OR NOT (SELECT require_opt_in FROM tenant WHERE id = ${tenantId}::uuid))`;
}
