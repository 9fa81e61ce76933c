import { DateTime } from 'luxon';
import { sqlRows } from '../../infra/db/sql.js';
import { Prisma } from '../../generated/prisma/client.js';
import { clock } from '../../infra/lib/clock.js';
import { localDay } from '../../infra/lib/local-time.js';
import { LIMIT_WINDOW_GUARD_MS } from '../../domain/instances.js';

/** What PostgreSQL knows of an instance's recent sends, to rebuild its limiter state after Redis lost it. */
export interface LimiterSeed {
  /** Each send of the last hour: when it was claimed (ms) and a member name unique to it. */
  sends: Array<{ at: number; member: string }>;
  /** Sends since the start of the instance's local day (its tenant's zone), and that day. */
  dayCount: number;
  localDay: string;
  /** The latest send (ms), 0 when none. */
  lastAt: number;
}

/**
 * Every send of the instance in the last hour and since its local midnight, from recipients and
 * follow-ups. Recipients are read through the campaigns that used the instance and changed lately
 * (a campaign's row is updated with every send and receipt), so an idle instance costs one small query.
 */
export async function limiterSeedFromDatabase(instanceId: string): Promise<LimiterSeed> {
  const [tz] = await sqlRows<{ timezone: string }>(Prisma.sql`
    SELECT t.timezone FROM whatsapp_instance i JOIN tenant t ON t.id = i.tenant_id WHERE i.id = ${instanceId}::uuid`);
  const { day, dayStart, hourAgo, from } = seedSpan(tz?.timezone ?? 'UTC');
  const rows = await sqlRows<{ member: string; at: Date }>(Prisma.sql`
    -- The later of the claim and the record: a call starts after the pace gate, up to seconds after its claim,
    -- and is answered before it is recorded (counting it late holds the limits; counting it early would not).
    SELECT 'r:' || r.id AS member, GREATEST(r.sending_at, r.sent_at) AS at FROM recipient r
    WHERE r.campaign_id IN (
        SELECT c.id FROM campaign c JOIN campaign_instance ci ON ci.campaign_id = c.id
        WHERE ci.instance_id = ${instanceId}::uuid AND c.updated_at >= ${from})
      AND r.instance_id = ${instanceId}::uuid AND r.sending_at >= ${from}
    UNION ALL
    SELECT 'f:' || f.id, GREATEST(f.claimed_at, f.sent_at) FROM follow_up f
    -- (status, due_at) bounds the scan: a follow-up is sent after it falls due, rarely a week after.
    WHERE f.status IN ('SENDING', 'SENT', 'FAILED', 'UNKNOWN') AND f.due_at >= ${new Date(from.getTime() - 7 * 86_400_000)}
      AND f.instance_id = ${instanceId}::uuid AND f.claimed_at >= ${from}`);
  return seedOf(rows, day, dayStart, hourAgo);
}

/** The local day (the tenant's zone), its start, an hour (and the guard) ago, and the earlier of the two. */
function seedSpan(zone: string) {
  const now = clock.now();
  const day = localDay(now, zone);
  const dayStartDt = DateTime.fromISO(day, { zone });
  const dayStart = (dayStartDt.isValid ? dayStartDt : DateTime.fromISO(day, { zone: 'UTC' })).toJSDate();
  const hourAgo = new Date(now.getTime() - 3_600_000 - LIMIT_WINDOW_GUARD_MS);
  return { day, dayStart, hourAgo, from: dayStart < hourAgo ? dayStart : hourAgo };
}

function seedOf(rows: ReadonlyArray<{ member: string; at: Date }>, day: string, dayStart: Date, hourAgo: Date): LimiterSeed {
  const sends: LimiterSeed['sends'] = [];
  let dayCount = 0;
  let lastAt = 0;
  for (const r of rows) {
    const at = r.at.getTime();
    if (at >= dayStart.getTime()) dayCount++;
    if (at >= hourAgo.getTime()) sends.push({ at, member: r.member });
    lastAt = Math.max(lastAt, at);
  }
  return { sends, dayCount, localDay: day, lastAt };
}

/**
 * A campaign's sends (for its caps, issue 18) in the last hour and since its tenant's local midnight:
 * each recipient called, at the later of its claim and its recorded send (a send counts from when
 * Evolution may have handled it, as restamp does). Follow-ups do not count against the caps.
 */
export async function campaignLimiterSeedFromDatabase(campaignId: string): Promise<LimiterSeed> {
  const [tz] = await sqlRows<{ timezone: string }>(Prisma.sql`
    SELECT t.timezone FROM campaign c JOIN tenant t ON t.id = c.tenant_id WHERE c.id = ${campaignId}::uuid`);
  const { day, dayStart, hourAgo, from } = seedSpan(tz?.timezone ?? 'UTC');
  const rows = await sqlRows<{ member: string; at: Date }>(Prisma.sql`
    SELECT 'r:' || r.id AS member, GREATEST(r.sending_at, r.sent_at) AS at FROM recipient r
    WHERE r.campaign_id = ${campaignId}::uuid AND r.status IN ('SENDING', 'SENT', 'DELIVERED', 'READ', 'FAILED', 'UNKNOWN')
      AND GREATEST(r.sending_at, r.sent_at) >= ${from}`);
  return seedOf(rows, day, dayStart, hourAgo);
}
