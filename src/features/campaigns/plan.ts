import { audienceSql, reachableSql } from './audience.js';
import { storedAudience } from './lifecycle.js';
import { prisma } from '../../infra/db/client.js';
import { LIMIT_SETTINGS_SELECT, unusableReason } from '../../domain/instances.js';
import { type PlanResult, planCampaign } from '../../domain/plan.js';
import { nextOccurrence } from '../../domain/recurrence.js';
import { campaignWindow } from '../../domain/window.js';
import { NotFoundError } from '../../domain/errors.js';
import { Prisma } from '../../generated/prisma/client.js';
import { clock } from '../../infra/lib/clock.js';

/**
 * The pre-launch plan of one of the tenant's campaigns (see domain/plan.ts): the audience it would
 * freeze now (or, once started, what is left of it), by zone, against its instances, window and
 * holidays. Another tenant's campaign is not found.
 */
export async function campaignPlan(tenantId: string, campaignId: string, now: Date = clock.now()): Promise<PlanResult> {
  const c = await prisma.campaign.findFirst({
    where: { id: campaignId, tenantId },
    select: {
      status: true,
      scheduledAt: true,
      startedAt: true,
      timezoneMode: true,
      windowStartMinute: true,
      windowEndMinute: true,
      windowWeekdays: true,
      respectHolidays: true,
      holidayCountry: true,
      holidayRegion: true,
      minDelayMs: true,
      maxDelayMs: true,
      recurrence: true,
      recurrenceInterval: true,
      recurrenceEndAfter: true,
      recurrenceEndAt: true,
      occurrence: true,
      audienceType: true,
      audienceRules: true,
      audienceContactIds: true,
      audienceSegmentId: true,
      parent: { select: { scheduledAt: true, startedAt: true } },
      tenant: { select: { timezone: true, country: true, region: true, holidays: { select: { date: true, yearly: true } } } },
      instances: {
        select: {
          instance: {
            select: {
              id: true,
              name: true,
              manuallyPaused: true,
              pausedReason: true,
              autoPausedAt: true,
              connectionState: true,
              healthScore: true,
              sentToday: true,
              ...LIMIT_SETTINGS_SELECT,
            },
          },
        },
        orderBy: { addedAt: 'asc' },
      },
    },
  });
  if (!c) throw new NotFoundError('Campaign', campaignId);
  const tz = c.tenant.timezone;

  let audience: Array<{ zone: string; count: number }> = [];
  if (c.status === 'DRAFT' || c.status === 'SCHEDULED') {
    const who = await storedAudience(prisma, {
      tenant_id: tenantId,
      audience_type: c.audienceType,
      audience_rules: c.audienceRules,
      audience_contact_ids: c.audienceContactIds,
      audience_segment_id: c.audienceSegmentId,
    });
    const zone = c.timezoneMode === 'CONTACT' ? Prisma.sql`COALESCE(c.timezone, ${tz})` : Prisma.sql`${tz}::text`;
    audience = await prisma.$queryRaw<Array<{ zone: string; count: number }>>`
      SELECT ${zone} AS zone, count(*)::int AS count FROM contact c
      WHERE c.tenant_id = ${tenantId}::uuid AND ${reachableSql(tenantId)} AND (${audienceSql(who)})
      GROUP BY 1`;
  } else if (c.status === 'RUNNING' || c.status === 'PAUSED') {
    audience = await prisma.$queryRaw<Array<{ zone: string; count: number }>>`
      SELECT COALESCE(timezone, ${tz}) AS zone, count(*)::int AS count FROM recipient
      WHERE campaign_id = ${campaignId}::uuid AND status IN ('PENDING', 'QUEUED', 'SENDING')
      GROUP BY 1`;
  }

  const start = c.status === 'SCHEDULED' && c.scheduledAt && c.scheduledAt > now ? c.scheduledAt : now;
  const firstStart = c.parent?.scheduledAt ?? c.parent?.startedAt ?? c.scheduledAt ?? c.startedAt ?? start;
  const next = nextOccurrence(
    { recurrence: c.recurrence, interval: c.recurrenceInterval, endAfter: c.recurrenceEndAfter, endAt: c.recurrenceEndAt },
    firstStart,
    c.occurrence,
    start,
    tz,
  );
  const window = campaignWindow(c, c.tenant, c.tenant.holidays.map((h) => ({ date: h.date.toISOString().slice(0, 10), yearly: h.yearly })));
  const plan = planCampaign({
    start,
    audience,
    window,
    tenantZone: tz,
    instances: c.instances.map(({ instance: i }) => ({ ...i, unusable: unusableReason(i), autoPaused: i.autoPausedAt !== null })),
    campaignDelay: { minDelayMs: c.minDelayMs, maxDelayMs: c.maxDelayMs },
    deadline: next?.startAt ?? null,
  });
  if (c.status === 'PAUSED') plan.warnings.unshift('the campaign is paused: the plan assumes it resumes now');
  return plan;
}
