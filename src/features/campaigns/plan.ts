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
import { countsForCap, insideServiceWindow } from '../recipients/claim.js';

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
      expireAfterMinutes: true,
      expiresAt: true,
      frequencyCapMessages: true,
      frequencyCapHours: true,
      frequencyCapExempt: true,
      recurrence: true,
      recurrenceInterval: true,
      recurrenceEndAfter: true,
      recurrenceEndAt: true,
      occurrence: true,
      audienceType: true,
      audienceRules: true,
      audienceContactIds: true,
      audienceSegmentId: true,
      messages: { select: { templateName: true, templateLanguage: true }, orderBy: [{ order: 'asc' }, { id: 'asc' }] },
      parent: { select: { scheduledAt: true, startedAt: true } },
      tenant: {
        select: {
          timezone: true,
          country: true,
          region: true,
          frequencyCapMessages: true,
          frequencyCapHours: true,
          holidays: { select: { date: true, yearly: true } },
        },
      },
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
              integration: true,
              disconnectedSince: true,
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
  // Who the plan is about, as (contact c, recipient r or NULL) rows: the audience it would freeze, or the recipients left.
  let who: Prisma.Sql | null = null;
  if (c.status === 'DRAFT' || c.status === 'SCHEDULED') {
    const stored = await storedAudience(prisma, {
      tenant_id: tenantId,
      audience_type: c.audienceType,
      audience_rules: c.audienceRules,
      audience_contact_ids: c.audienceContactIds,
      audience_segment_id: c.audienceSegmentId,
    });
    const zone = c.timezoneMode === 'CONTACT' ? Prisma.sql`COALESCE(c.timezone, ${tz})` : Prisma.sql`${tz}::text`;
    audience = await prisma.$queryRaw<Array<{ zone: string; count: number }>>`
      SELECT ${zone} AS zone, count(*)::int AS count FROM contact c
      WHERE c.tenant_id = ${tenantId}::uuid AND ${reachableSql(tenantId)} AND (${audienceSql(stored)})
      GROUP BY 1`;
    who = Prisma.sql`SELECT c.id AS contact_id, NULL::uuid AS recipient_id FROM contact c
      WHERE c.tenant_id = ${tenantId}::uuid AND ${reachableSql(tenantId)} AND (${audienceSql(stored)})`;
  } else if (c.status === 'RUNNING' || c.status === 'PAUSED') {
    audience = await prisma.$queryRaw<Array<{ zone: string; count: number }>>`
      SELECT COALESCE(timezone, ${tz}) AS zone, count(*)::int AS count FROM recipient
      WHERE campaign_id = ${campaignId}::uuid AND status IN ('PENDING', 'QUEUED', 'SENDING')
      GROUP BY 1`;
    who = Prisma.sql`SELECT contact_id, id AS recipient_id FROM recipient WHERE campaign_id = ${campaignId}::uuid AND status IN ('PENDING', 'QUEUED')`;
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
  const expiresAt = c.expiresAt ?? (c.expireAfterMinutes !== null ? new Date(start.getTime() + c.expireAfterMinutes * 60_000) : null);
  const capN = c.frequencyCapExempt ? null : (c.frequencyCapMessages ?? c.tenant.frequencyCapMessages);
  const capHours = c.frequencyCapExempt ? null : c.frequencyCapMessages !== null ? c.frequencyCapHours : c.tenant.frequencyCapHours;
  const frequencyCap = who && capN !== null && capHours !== null ? await cappedNow(who, capN, capHours, expiresAt, now) : null;
  const plan = planCampaign({
    start,
    audience,
    window,
    tenantZone: tz,
    instances: c.instances.map(({ instance: i }) => ({ ...i, unusable: unusableReason(i), autoPaused: i.autoPausedAt !== null })),
    campaignDelay: { minDelayMs: c.minDelayMs, maxDelayMs: c.maxDelayMs },
    deadline: next?.startAt ?? null,
    expiresAt,
    frequencyCap,
  });
  const business = c.instances.filter(({ instance: i }) => i.integration === 'WHATSAPP_BUSINESS').map(({ instance: i }) => i.id);
  if (who && business.length > 0 && c.messages.some((m) => m.templateName === null)) {
    const template = c.messages.find((m) => m.templateName !== null);
    const outside = await outsideServiceWindow(who, business, now);
    plan.serviceWindow = { outside, template: template ? `${template.templateName} (${template.templateLanguage})` : null };
    if (outside > 0) {
      plan.warnings.push(
        template
          ? `${outside} recipient(s) wrote to none of the campaign's WhatsApp Business numbers in the last 24 hours: Meta refuses free text to them, so they get the template ${plan.serviceWindow.template} instead`
          : `${outside} recipient(s) wrote to none of the campaign's WhatsApp Business numbers in the last 24 hours: Meta refuses free text to them and the campaign has no template variation, so those sent through such a number will be skipped (OUTSIDE_SERVICE_WINDOW)`,
      );
    }
  }
  if (c.status === 'PAUSED') plan.warnings.unshift('the campaign is paused: the plan assumes it resumes now');
  return plan;
}

/** Of `who`, those whose contact wrote to none of the `instances` within the service window at `now` (see claim.ts). */
async function outsideServiceWindow(who: Prisma.Sql, instances: string[], now: Date): Promise<number> {
  const inside = instances.map((id) => insideServiceWindow(Prisma.sql`w.contact_id`, id, now));
  const [row] = await prisma.$queryRaw<Array<{ n: number }>>`
    SELECT count(*)::int AS n FROM (${who}) w WHERE NOT (${Prisma.join(inside, ' OR ')})`;
  return row?.n ?? 0;
}

/** Of `who`, those whose contact is at the frequency cap now, split by whether it frees before the expiry (see claim.ts). */
async function cappedNow(who: Prisma.Sql, capN: number, capHours: number, expiresAt: Date | null, now: Date) {
  const [row] = await prisma.$queryRaw<Array<{ deferred: number; skipped: number; frees_by: Date | null }>>`
    SELECT count(*) FILTER (WHERE ${expiresAt}::timestamptz IS NULL OR frees_at <= ${expiresAt}::timestamptz)::int AS deferred,
      count(*) FILTER (WHERE frees_at > ${expiresAt}::timestamptz)::int AS skipped,
      max(frees_at) FILTER (WHERE ${expiresAt}::timestamptz IS NULL OR frees_at <= ${expiresAt}::timestamptz) AS frees_by
    FROM (${who}) w
    CROSS JOIN LATERAL (
      SELECT count(*) AS n, min(o.sent_at) + make_interval(hours => ${capHours}) AS frees_at FROM recipient o
      WHERE o.contact_id = w.contact_id AND o.id IS DISTINCT FROM w.recipient_id AND ${countsForCap(now, Prisma.sql`${capHours}::int`)}
    ) cap
    WHERE cap.n >= ${capN}`;
  return { deferred: row?.deferred ?? 0, skipped: row?.skipped ?? 0, freesBy: row?.frees_by ?? null };
}
