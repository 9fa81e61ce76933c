import { Prisma } from '../generated/prisma/client.js';

/**
 * Which contacts a campaign targets, as a SQL predicate over `contact c`. Opted-out, blocked and
 * not-on-WhatsApp contacts are never part of an audience, whatever the rules.
 */
export interface TagRules {
  tagsAny?: string[];
  tagsAll?: string[];
  tagsNone?: string[];
}

export type Audience =
  | { type: 'ALL' }
  | { type: 'RULES'; rules: TagRules }
  | { type: 'CONTACTS'; contactIds: string[] };

export function reachable(): Prisma.Sql {
  return Prisma.sql`NOT c.opted_out AND NOT c.blocked AND NOT c.not_on_whatsapp`;
}

export function tagRulesSql(rules: TagRules): Prisma.Sql {
  const parts: Prisma.Sql[] = [];
  if (rules.tagsAny?.length) parts.push(Prisma.sql`c.tags && ${rules.tagsAny}::text[]`);
  if (rules.tagsAll?.length) parts.push(Prisma.sql`c.tags @> ${rules.tagsAll}::text[]`);
  if (rules.tagsNone?.length) parts.push(Prisma.sql`NOT (c.tags && ${rules.tagsNone}::text[])`);
  return parts.length ? Prisma.join(parts, ' AND ') : Prisma.sql`TRUE`;
}

export function audienceSql(audience: Audience): Prisma.Sql {
  switch (audience.type) {
    case 'ALL':
      return Prisma.sql`TRUE`;
    case 'RULES':
      return tagRulesSql(audience.rules);
    case 'CONTACTS':
      return Prisma.sql`c.id = ANY(${audience.contactIds}::uuid[])`;
  }
}
