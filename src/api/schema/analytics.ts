import { z } from 'zod';
import {
  type DurationStats,
  type ErrorCount,
  engagementSlots,
  type InstanceFigures,
  instanceFigures,
  type SeriesPoint,
  type SlotCounts,
  sendDurations,
  type TimelineEntry,
  timeline,
  timeSeries,
  topErrors,
  type VariationFigures,
  variationFigures,
} from '../../features/analytics/campaign.js';
import { prisma } from '../../infra/db/client.js';
import type { AbMetric } from '../../domain/ab-test.js';
import { fillSlots, MAX_SERIES_BUCKETS, roi, TIME_BUCKETS, type TimeBucket } from '../../domain/analytics.js';
import { weekdayName } from '../../domain/campaign-settings.js';
import { type Counts, countsFromFields, STEP_KEYS } from '../../domain/counters.js';
import { healthStatus } from '../../domain/health.js';
import { ForbiddenError, NotFoundError } from '../../domain/errors.js';
import { EXPORT_LINK_TTL_SECONDS, reportUrl } from '../../features/exports/token.js';
import type { CampaignMessage, WhatsAppInstance } from '../../generated/prisma/client.js';
import { AbVariantRef, loadVariants, variantResults } from './ab-test.js';
import { batched, withInstances, withMessages } from './batching.js';
import { builder } from './builder.js';
import { CampaignMessageRef, CampaignRef, WeekdayEnum } from './campaign.js';
import type { Context } from './context.js';
import { COUNTER_SELECT, counterFields, FiguresRef, FunnelRef, RatesRef } from './counters.js';
import { HealthStatusEnum, WhatsAppInstanceRef } from './sender.js';

// A campaign's analytics (Campaign.analytics) and its CSV report link. The A/B test is in
// ab-test.ts, the tenant's analytics in tenant-analytics.ts, conversions in conversion.ts.

const RevenueRef = builder.objectRef<{ cost: number | null; conversionValue: number; converted: number }>('AnalyticsRevenue').implement({
  fields: (t) => ({
    cost: t.exposeFloat('cost', { nullable: true }),
    conversionValue: t.exposeFloat('conversionValue', { description: 'Sum of the values of the recorded conversions.' }),
    roi: t.float({ nullable: true, description: '(conversion value − cost) / cost; null without a cost.', resolve: (r) => roi(r.conversionValue, r.cost) }),
    costPerConversion: t.float({ nullable: true, resolve: (r) => (r.cost !== null && r.converted > 0 ? Math.round((r.cost / r.converted) * 100) / 100 : null) }),
  }),
});

interface AnalyticsSource {
  campaignId: string;
  tenantId: string;
  timezone: string;
  counters: Counts;
  cost: number | null;
  conversionValue: number;
  abMetric: AbMetric;
}

const InstanceAnalyticsRef = builder.objectRef<InstanceFigures & { instance: WhatsAppInstance | null }>('InstanceAnalytics').implement({
  description: "One sender's share of the campaign.",
  fields: (t) => ({
    instance: t.field({ type: WhatsAppInstanceRef, nullable: true, description: 'Null once the instance was deleted.', resolve: (r) => r.instance }),
    figures: t.field({ type: FiguresRef, resolve: (r) => r }),
    averageSendMs: t.float({ nullable: true, resolve: (r) => (r.avg_send_ms === null ? null : Math.round(r.avg_send_ms * 10) / 10) }),
    healthScore: t.float({ nullable: true, description: "The instance's health score now.", resolve: (r) => r.instance?.healthScore ?? null }),
    healthStatus: t.field({ type: HealthStatusEnum, nullable: true, resolve: (r) => (r.instance ? healthStatus(r.instance.healthScore) : null) }),
    healthIssues: t.exposeInt('health_issues', { description: 'Times its health fell below the threshold during this campaign.' }),
    pauses: t.exposeInt('pauses', { description: 'Times it was paused (health, disconnection, provider refusal) during this campaign.' }),
  }),
});

const VariationAnalyticsRef = builder.objectRef<VariationFigures & { message: CampaignMessage | null }>('VariationAnalytics').implement({
  description: 'One variation: every recipient that got it (an A/B winner includes the hold-out it was sent to).',
  fields: (t) => ({
    message: t.field({ type: CampaignMessageRef, nullable: true, resolve: (r) => r.message }),
    figures: t.field({ type: FiguresRef, resolve: (r) => r }),
  }),
});

const HourRef = builder.objectRef<SlotCounts>('HourOfDayAnalytics').implement({
  fields: (t) => ({
    hour: t.exposeInt('slot', { description: "0–23, in the tenant's time zone." }),
    delivered: t.exposeInt('delivered'),
    read: t.exposeInt('read'),
  }),
});

const WeekdayRef = builder.objectRef<SlotCounts>('WeekdayAnalytics').implement({
  fields: (t) => ({
    weekday: t.field({ type: WeekdayEnum, resolve: (s) => weekdayName(s.slot) }),
    isoWeekday: t.exposeInt('slot', { description: "1 = Monday … 7 = Sunday, in the tenant's time zone." }),
    delivered: t.exposeInt('delivered'),
    read: t.exposeInt('read'),
  }),
});

const TimeBucketEnum = builder.enumType('AnalyticsTimeBucket', { values: Object.keys(TIME_BUCKETS) as TimeBucket[] });

const SeriesPointRef = builder.objectRef<SeriesPoint>('AnalyticsTimeSeriesPoint').implement({
  description: 'Recipients whose step happened in the bucket (clicked and converted: their first).',
  fields: (t) => ({
    start: t.field({ type: 'DateTime', description: "Start of the bucket (minute, hour, or local midnight in the tenant's zone).", resolve: (p) => p.bucket }),
    ...counterFields(t, STEP_KEYS),
  }),
});

const ErrorCountRef = builder.objectRef<ErrorCount>('AnalyticsErrorCount').implement({
  fields: (t) => ({
    code: t.exposeString('code'),
    message: t.exposeString('message'),
    count: t.exposeInt('count', { description: 'Failed or unknown-outcome recipients with this error.' }),
  }),
});

const DurationRef = builder.objectRef<DurationStats>('SendDurationStats').implement({
  description: 'Time from the request to Evolution to its answer, over accepted sends, in milliseconds.',
  fields: (t) => ({
    count: t.exposeInt('count'),
    averageMs: t.float({ nullable: true, resolve: (d) => d.average }),
    medianMs: t.float({ nullable: true, resolve: (d) => d.p50 }),
    p95Ms: t.float({ nullable: true, resolve: (d) => d.p95 }),
    maxMs: t.float({ nullable: true, resolve: (d) => d.max }),
  }),
});

const TimelineRef = builder.objectRef<TimelineEntry>('CampaignTimelineEntry').implement({
  description: 'A milestone of the campaign (from its log).',
  fields: (t) => ({
    at: t.field({ type: 'DateTime', resolve: (e) => e.created_at }),
    type: t.exposeString('type'),
    severity: t.exposeString('severity'),
    message: t.exposeString('message'),
    details: t.field({ type: 'JSON', nullable: true, resolve: (e) => e.details }),
    instanceId: t.globalID({ nullable: true, resolve: (e) => (e.instance_id ? { type: 'WhatsAppInstance', id: e.instance_id } : null) }),
    actor: t.exposeString('actor', { nullable: true }),
  }),
});

/** Deliveries and reads per hour (0–23) or ISO weekday (1–7) in the tenant's zone, every slot listed. */
async function engagement(a: AnalyticsSource, ctx: Context, slot: 'hour' | 'isodow', first: number, last: number) {
  const rows = await batched(ctx, `${slot}:${a.timezone}`, (ids) => engagementSlots(a.tenantId, ids, a.timezone, slot)).load(a.campaignId);
  return fillSlots(rows, first, last, (n) => ({ campaign_id: a.campaignId, slot: n, delivered: 0, read: 0 }));
}

const CampaignAnalyticsRef = builder.objectRef<AnalyticsSource>('CampaignAnalytics').implement({
  description: 'Figures of one campaign. Each field is computed only when asked for.',
  fields: (t) => ({
    timezone: t.exposeString('timezone', { description: 'The zone hours, weekdays and days are read in (the tenant’s).' }),
    funnel: t.field({ type: FunnelRef, resolve: (a) => a.counters }),
    rates: t.field({ type: RatesRef, resolve: (a) => a.counters }),
    revenue: t.field({ type: RevenueRef, resolve: (a) => ({ cost: a.cost, conversionValue: a.conversionValue, converted: a.counters.converted }) }),
    instances: t.field({
      type: [InstanceAnalyticsRef],
      resolve: (a, _args, ctx) =>
        batched(ctx, 'instances', async (ids) => withInstances(a.tenantId, await instanceFigures(a.tenantId, ids))).load(a.campaignId),
    }),
    variations: t.field({
      type: [VariationAnalyticsRef],
      resolve: (a, _args, ctx) =>
        batched(ctx, 'variations', async (ids) => withMessages(a.tenantId, await variationFigures(a.tenantId, ids))).load(a.campaignId),
    }),
    abVariants: t.field({
      type: [AbVariantRef],
      description: 'Per A/B variant (empty without an A/B test); sample and successes follow the test’s metric.',
      resolve: async (a, _args, ctx) => variantResults(a.abMetric, await loadVariants(ctx, a.tenantId, a.campaignId)),
    }),
    byHourOfDay: t.field({
      type: [HourRef],
      description: "Deliveries and reads by hour of the day in the tenant's time zone (24 entries).",
      resolve: (a, _args, ctx) => engagement(a, ctx, 'hour', 0, 23),
    }),
    byWeekday: t.field({
      type: [WeekdayRef],
      description: "Deliveries and reads by weekday in the tenant's time zone (7 entries, Monday first).",
      resolve: (a, _args, ctx) => engagement(a, ctx, 'isodow', 1, 7),
    }),
    timeSeries: t.field({
      type: [SeriesPointRef],
      description: `Events per bucket, oldest first; buckets without events are left out. At most ${MAX_SERIES_BUCKETS} buckets: narrow from/to or widen the bucket.`,
      args: {
        bucket: t.arg({ type: TimeBucketEnum, required: true }),
        from: t.arg({ type: 'DateTime' }),
        to: t.arg({ type: 'DateTime', description: 'Exclusive.' }),
      },
      resolve: (a, args, ctx) => {
        const range = { bucket: args.bucket, from: args.from ?? null, to: args.to ?? null };
        const key = `series:${a.timezone}:${range.bucket}:${range.from?.toISOString()}:${range.to?.toISOString()}`;
        return batched(ctx, key, (ids) => timeSeries(a.tenantId, ids, a.timezone, range)).load(a.campaignId);
      },
    }),
    topErrors: t.field({
      type: [ErrorCountRef],
      args: { limit: t.arg.int({ defaultValue: 10, validate: z.number().int().min(1).max(100) }) },
      resolve: (a, args, ctx) => {
        const limit = args.limit ?? 10;
        return batched(ctx, `errors:${limit}`, (ids) => topErrors(a.tenantId, ids, limit)).load(a.campaignId);
      },
    }),
    sendDuration: t.field({
      type: DurationRef,
      resolve: (a, _args, ctx) => batched(ctx, 'durations', (ids) => sendDurations(a.tenantId, ids)).load(a.campaignId),
    }),
    timeline: t.field({
      type: [TimelineRef],
      description: 'Milestones in time order: start, pauses and resumes, sending windows, instance trouble, A/B winner, end. Every message event is in `logs`.',
      args: { limit: t.arg.int({ defaultValue: 100, validate: z.number().int().min(1).max(1000) }) },
      resolve: (a, args, ctx) => {
        const limit = args.limit ?? 100;
        return batched(ctx, `timeline:${limit}`, (ids) => timeline(a.tenantId, ids, limit)).load(a.campaignId);
      },
    }),
  }),
});

builder.prismaObjectFields(CampaignRef, (t) => ({
  analytics: t.field({
    type: CampaignAnalyticsRef,
    description: "The campaign's analytics: funnel, rates, per instance, per variation and A/B variant, by hour and weekday, time series, errors, durations, timeline.",
    select: { id: true, tenantId: true, cost: true, conversionValue: true, abMetric: true, ...COUNTER_SELECT, tenant: { select: { timezone: true } } },
    resolve: (c) => ({
      campaignId: c.id,
      abMetric: c.abMetric as AbMetric,
      tenantId: c.tenantId,
      timezone: c.tenant.timezone,
      cost: c.cost === null ? null : Number(c.cost),
      conversionValue: Number(c.conversionValue),
      counters: countsFromFields(c),
    }),
  }),
}));

const ReportLinkRef = builder.objectRef<{ url: string; expiresAt: Date }>('CampaignReportLink').implement({
  fields: (t) => ({
    url: t.exposeString('url', { description: 'GET it (no other credential needed) for the CSV report, one row per recipient.' }),
    expiresAt: t.field({ type: 'DateTime', resolve: (l) => l.expiresAt }),
  }),
});

builder.mutationFields((t) => ({
  exportCampaignReport: t.field({
    type: ReportLinkRef,
    description: `A link to the campaign's CSV report, valid for ${EXPORT_LINK_TTL_SECONDS / 60} minutes. The same report is at that path with an API key.`,
    errors: { types: [ForbiddenError, NotFoundError] },
    args: { campaignId: t.arg.globalID({ required: true, for: CampaignRef }) },
    resolve: async (_root, { campaignId }, ctx) => {
      const campaign = await prisma.campaign.findFirst({ where: { id: campaignId.id, tenantId: ctx.viewer.tenantId }, select: { id: true } });
      if (!campaign) throw new NotFoundError('Campaign', campaignId.id);
      const expires = Math.floor(Date.now() / 1000) + EXPORT_LINK_TTL_SECONDS;
      return { url: reportUrl({ tenantId: ctx.viewer.tenantId, campaignId: campaign.id, expires }), expiresAt: new Date(expires * 1000) };
    },
  }),
}));
