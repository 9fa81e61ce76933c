import { prisma } from '../db/client.js';

export interface MessageTotals {
  sent: number;
  delivered: number;
  read: number;
  failed: number;
}

export interface TenantStats {
  campaignsByStatus: Array<{ status: string; count: number }>;
  today: MessageTotals;
  overall: MessageTotals & { targeted: number; replied: number; skipped: number; unknown: number };
  contacts: { total: number; optedOut: number; blocked: number; notOnWhatsapp: number };
  instances: { total: number; paused: number; disconnected: number };
}

/**
 * The tenant's figures from counters, never from scanning recipients: today's from the instances'
 * daily counters (reset at the tenant's midnight), overall from the campaigns' counters.
 */
export async function tenantStats(tenantId: string): Promise<TenantStats> {
  const [byStatus, [overall], [today], [contacts], [instances]] = await Promise.all([
    prisma.$queryRaw<Array<{ status: string; count: number }>>`
      SELECT status::text, count(*)::int AS count FROM campaign WHERE tenant_id = ${tenantId}::uuid GROUP BY status ORDER BY status`,
    prisma.$queryRaw<Array<TenantStats['overall']>>`
      SELECT COALESCE(sum(targeted_count), 0)::int AS targeted, COALESCE(sum(sent_count), 0)::int AS sent,
             COALESCE(sum(delivered_count), 0)::int AS delivered, COALESCE(sum(read_count), 0)::int AS read,
             COALESCE(sum(failed_count), 0)::int AS failed, COALESCE(sum(replied_count), 0)::int AS replied,
             COALESCE(sum(skipped_count), 0)::int AS skipped, COALESCE(sum(unknown_count), 0)::int AS unknown
      FROM campaign WHERE tenant_id = ${tenantId}::uuid`,
    prisma.$queryRaw<Array<MessageTotals>>`
      SELECT COALESCE(sum(sent_today), 0)::int AS sent, COALESCE(sum(delivered_today), 0)::int AS delivered,
             COALESCE(sum(read_today), 0)::int AS read, COALESCE(sum(failed_today), 0)::int AS failed
      FROM whatsapp_instance WHERE tenant_id = ${tenantId}::uuid`,
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
