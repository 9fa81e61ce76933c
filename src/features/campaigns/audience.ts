import type { SegmentRules } from '../../domain/segment-rules.js';
import { Prisma } from '../../generated/prisma/client.js';
import { reachableSql, rulesSql } from '../segments/sql.js';

/** Which contacts a campaign targets, as a SQL predicate over `contact c` (reachability is added by callers). */
export type Audience = { type: 'ALL' } | { type: 'RULES'; rules: SegmentRules } | { type: 'CONTACTS'; contactIds: string[] };

export function audienceSql(audience: Audience, now = new Date()): Prisma.Sql {
  switch (audience.type) {
    case 'ALL':
      return Prisma.sql`TRUE`;
    case 'RULES':
      return rulesSql(audience.rules, now);
    case 'CONTACTS':
      return Prisma.sql`c.id = ANY(${audience.contactIds}::uuid[])`;
  }
}

export { reachableSql };
