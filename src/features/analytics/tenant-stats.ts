import { counterSums } from '../campaigns/counter-sql.js';
import { prisma } from '../../infra/db/client.js';
import { COUNTERS, type Counts, DAILY_KEYS, type DailyKey } from '../../domain/counters.js';

export type MessageTotals = Counts<DailyKey>;

/** The campaigns' counters summed in `overall`. */
const OVERALL_KEYS = [...DAILY_KEYS, 'targeted', 'replied', 'skipped', 'unknown'] as const;

export interface TenantStats {
  campaignsByStatus: Array<{ status: string; count: number }>;
  today: MessageTotals;
  overall: Counts<(typeof OVERALL_KEYS)[number]>;
  contacts: { total: number; optedOut: number; blocked: number; notOnWhatsapp: number };
  instances: { total: number; paused: number; disconnected: number };
}

/** The instances' counters of today (`sent_today`, …), summed. */
const TODAY_SUMS = counterSums(DAILY_KEYS, null, (k) => COUNTERS[k].daily);

/**
 * The tenant's figures from counters, never from scanning recipients: today's from the instances'
 * daily counters (reset at the tenant's midnight), overall from the campaigns' counters.
 */
export async function tenantStats(tenantId: string): Promise<TenantStats> {
  const [byStatus, [overall], [today], [contacts], [instances]] = await Promise.all([
    prisma.$queryRaw<Array<{ status: string; count: number }>>`
      SELECT status::text, count(*)::int AS count FROM campaign WHERE tenant_id = ${tenantId}::uuid GROUP BY status ORDER BY status`,
    prisma.$queryRaw<Array<TenantStats['overall']>>`
      SELECT ${counterSums(OVERALL_KEYS)} FROM campaign WHERE tenant_id = ${tenantId}::uuid`,
    prisma.$queryRaw<Array<MessageTotals>>`
      SELECT ${TODAY_SUMS} FROM whatsapp_instance WHERE tenant_id = ${tenantId}::uuid`,
    prisma.$queryRaw<Array<TenantStats['contacts']>>`
      SELECT count(*)::int AS total, count(*) FILTER (WHERE opted_out)::int AS "optedOut",
             count(*) FILTER (WHERE blocked)::int AS blocked, count(*) FILTER (WHERE not_on_whatsapp)::int AS "notOnWhatsapp"
      FROM contact WHERE tenant_id = ${tenantId}::uuid`,
    prisma.$queryRaw<Array<TenantStats['instances']>>`
      SELECT count(*)::int AS total, count(*) FILTER (WHERE manually_paused OR auto_paused_at IS NOT NULL)::int AS paused,
             count(*) FILTER (WHERE connection_state IN ('CLOSE', 'REFUSED'))::int AS disconnected
      FROM whatsapp_instance WHERE tenant_id = ${tenantId}::uuid`,
  ]);
  return {
    campaignsByStatus: byStatus,
    overall: overall as TenantStats['overall'],
    today: today as MessageTotals,
    contacts: contacts as TenantStats['contacts'],
    instances: instances as TenantStats['instances'],
  };
}
