import DataLoader from 'dataloader';
import { z } from 'zod';
import { AB_SELECT, type AbSettings, chooseAbWinner, type DecisionRecord, decisionRecords, holdOutCounts, samplesOf } from '../ab/evaluate.js';
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
  type VariantFigures,
  type VariationFigures,
  variantFigures,
  variationFigures,
} from '../analytics/campaign.js';
import { checkPeriod, instanceRanking, optOuts, RANKING_KEYS, tenantTotals, tenantTrend, type InstanceRank, type Period, type TenantTotals } from '../analytics/tenant.js';
import { recordConversion, type RecordedConversion } from '../conversions/record.js';
import { prisma } from '../db/client.js';
import { type AbDecision, type AbMetric, decideAbTest, rateOf, type VariantSample } from '../domain/ab-test.js';
import { fillSlots, MAX_SERIES_BUCKETS, roi, TIME_BUCKETS, type TimeBucket, TREND_BUCKETS, type TrendBucket } from '../domain/analytics.js';
import { weekdayName } from '../domain/campaign-settings.js';
import { type Counts, countsFromFields, PROGRESS_RATE_KEYS, rate, STEP_KEYS, TOTAL_KEYS } from '../domain/counters.js';
import { healthStatus } from '../domain/health.js';
import { ConflictError, ForbiddenError, InvalidTransitionError, NotFoundError, ValidationError } from '../errors.js';
import { EXPORT_LINK_TTL_SECONDS, reportUrl } from '../exports/token.js';
import type { CampaignMessage, WhatsAppInstance } from '../generated/prisma/client.js';
import { builder } from './builder.js';
import { AbMetricEnum, CampaignMessageRef, CampaignRef, WeekdayEnum } from './campaign.js';
import { ContactRef } from './contact.js';
import type { Context } from './context.js';
import { COUNTER_SELECT, counterFields, FiguresRef, FunnelRef, RatesRef, rateFields } from './counters.js';
import { HealthStatusEnum, WhatsAppInstanceRef } from './sender.js';

// ───────────── per-request batching: a list of campaigns costs one query per figure ─────────────

const perRequest = new WeakMap<object, Map<string, DataLoader<string, unknown>>>();

function batched<T>(ctx: Context, key: string, load: (ids: readonly string[]) => Promise<Map<string, T>>): DataLoader<string, T> {
  let loaders = perRequest.get(ctx);
  if (!loaders) {
    loaders = new Map();
    perRequest.set(ctx, loaders);
  }
  let loader = loaders.get(key) as DataLoader<string, T> | undefined;
  if (!loader) {
    loader = new DataLoader<string, T>(async (ids) => {
      const found = await load(ids);
      return ids.map((id) => found.get(id) as T);
    });
    loaders.set(key, loader as DataLoader<string, unknown>);
  }
  return loader;
}

async function withInstances<R extends { instance_id: string }>(tenantId: string, byCampaign: Map<string, R[]>) {
  const ids = [...new Set([...byCampaign.values()].flat().map((r) => r.instance_id))];
  const instances = ids.length ? await prisma.whatsAppInstance.findMany({ where: { id: { in: ids }, tenantId } }) : [];
  const byId = new Map(instances.map((i) => [i.id, i]));
  return new Map([...byCampaign].map(([cid, rows]) => [cid, rows.map((r) => ({ ...r, instance: byId.get(r.instance_id) ?? null }))]));
}

async function withMessages<R extends { message_id: string | null }>(tenantId: string, byCampaign: Map<string, R[]>) {
  const ids = [...new Set([...byCampaign.values()].flat().flatMap((r) => (r.message_id ? [r.message_id] : [])))];
  const messages = ids.length ? await prisma.campaignMessage.findMany({ where: { id: { in: ids }, tenantId } }) : [];
  const byId = new Map(messages.map((m) => [m.id, m]));
  return new Map([...byCampaign].map(([cid, rows]) => [cid, rows.map((r) => ({ ...r, message: r.message_id ? (byId.get(r.message_id) ?? null) : null }))]));
}

// ───────────── shared shapes (those of counters and rates are in counters.ts) ─────────────

const RevenueRef = builder.objectRef<{ cost: number | null; conversionValue: number; converted: number }>('AnalyticsRevenue').implement({
  fields: (t) => ({
    cost: t.exposeFloat('cost', { nullable: true }),
    conversionValue: t.exposeFloat('conversionValue', { description: 'Sum of the values of the recorded conversions.' }),
    roi: t.float({ nullable: true, description: '(conversion value − cost) / cost; null without a cost.', resolve: (r) => roi(r.conversionValue, r.cost) }),
    costPerConversion: t.float({ nullable: true, resolve: (r) => (r.cost !== null && r.converted > 0 ? Math.round((r.cost / r.converted) * 100) / 100 : null) }),
  }),
});

// ───────────── campaign analytics ─────────────

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

interface VariantResult extends VariantFigures {
  message: CampaignMessage | null;
  sample: VariantSample;
}

const AbVariantRef = builder.objectRef<VariantResult>('AbVariantFigures').implement({
  description: 'One A/B variant over the recipients the test assigned to it (not the hold-out it may have won).',
  fields: (t) => ({
    variant: t.exposeString('variant'),
    message: t.field({ type: CampaignMessageRef, nullable: true, resolve: (r) => r.message }),
    figures: t.field({ type: FiguresRef, resolve: (r) => r }),
    sample: t.int({ description: "Delivered messages: the test's sample.", resolve: (r) => r.sample.trials }),
    successes: t.int({ description: "Delivered messages that reached the test's metric.", resolve: (r) => r.sample.successes }),
    metricRate: t.float({ description: 'successes / sample', resolve: (r) => Math.round(rateOf(r.sample) * 10000) / 10000 }),
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
const TrendBucketEnum = builder.enumType('AnalyticsTrendBucket', { values: Object.keys(TREND_BUCKETS) as TrendBucket[] });

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

function loadVariants(ctx: Context, tenantId: string, campaignId: string) {
  return batched(ctx, 'variants', async (ids) => withMessages(tenantId, await variantFigures(tenantId, ids))).load(campaignId);
}

function variantResults(metric: AbMetric, rows: Array<VariantFigures & { message: CampaignMessage | null }>): VariantResult[] {
  const samples = samplesOf(metric, rows);
  return rows.map((r, i) => ({ ...r, sample: samples[i] as VariantSample }));
}


// ───────────── A/B test result ─────────────

const AbTestStatusEnum = builder.enumType('AbTestStatus', {
  values: {
    NOT_ENABLED: { description: 'The campaign has no A/B test.' },
    COLLECTING: { description: 'Some variant has not reached the minimum sample yet.' },
    NO_SIGNIFICANT_WINNER: { description: 'Every variant has the sample, but no variant beats the others at the required confidence (yet).' },
    WINNER: { description: 'A variant wins at the required confidence. With a test share it is sent to the hold-out at the next evaluation (automatic winner).' },
    DECIDED: { description: 'The winner was chosen and sent to the hold-out.' },
  },
});

type AbSource = AbSettings;

interface AbResult {
  source: AbSource;
  status: 'NOT_ENABLED' | 'COLLECTING' | 'NO_SIGNIFICANT_WINNER' | 'WINNER' | 'DECIDED';
  reason: string | null;
  variants: VariantResult[];
  winner: VariantResult | null;
  confidence: number | null;
  decision: DecisionRecord | null;
  holdOut: number;
}

function statusOf(d: AbDecision): AbResult['status'] {
  if (d.status === 'WINNER') return 'WINNER';
  if (d.status === 'NOT_SIGNIFICANT') return 'NO_SIGNIFICANT_WINNER';
  return 'COLLECTING';
}

const AbTestResultRef = builder.objectRef<AbResult>('AbTestResult').implement({
  description: "The A/B test's figures per variant, the winner and its confidence, or why there is none yet.",
  fields: (t) => ({
    status: t.field({ type: AbTestStatusEnum, resolve: (r) => r.status }),
    reason: t.exposeString('reason', { nullable: true, description: 'Why there is no winner yet, or how the winner won.' }),
    metric: t.field({ type: AbMetricEnum, resolve: (r) => r.source.abMetric }),
    minSample: t.int({ description: 'Delivered messages each variant needs.', resolve: (r) => r.source.abMinSample }),
    significance: t.float({ resolve: (r) => r.source.abSignificance }),
    testShare: t.float({ resolve: (r) => r.source.abTestShare }),
    variants: t.field({ type: [AbVariantRef], resolve: (r) => r.variants }),
    winner: t.field({ type: AbVariantRef, nullable: true, resolve: (r) => r.winner }),
    confidence: t.float({
      nullable: true,
      description: 'Confidence that the winner beats every other variant (two-proportion z-test); for a decided test, at the time of the decision.',
      resolve: (r) => r.confidence,
    }),
    decidedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.source.abDecidedAt }),
    automatic: t.boolean({ nullable: true, description: 'Whether the decision was automatic (false: an operator chose).', resolve: (r) => r.decision?.automatic ?? null }),
    released: t.int({ nullable: true, description: 'Hold-out recipients the winner was sent to.', resolve: (r) => r.decision?.released ?? null }),
    holdOut: t.exposeInt('holdOut', { description: 'Recipients still waiting for the winner.' }),
  }),
});

async function abResult(source: AbSource, ctx: Context): Promise<AbResult> {
  const empty = { source, variants: [], winner: null, confidence: null, decision: null, holdOut: 0 };
  if (!source.abEnabled) return { ...empty, status: 'NOT_ENABLED', reason: 'the campaign has no A/B test' };
  const [rows, holdOut, decision] = await Promise.all([
    loadVariants(ctx, source.tenantId, source.id),
    batched(ctx, 'hold-out', (ids) => holdOutCounts(source.tenantId, ids)).load(source.id),
    source.abDecidedAt ? batched(ctx, 'ab-decision', (ids) => decisionRecords(source.tenantId, ids)).load(source.id) : Promise.resolve(undefined),
  ]);
  const variants = variantResults(source.abMetric, rows).filter((v) => v.sample.trials > 0 || v.message !== null);
  if (source.abDecidedAt) {
    const winner = variants.find((v) => v.message_id === source.abWinnerMessageId) ?? variants.find((v) => v.variant === decision?.winner) ?? null;
    return {
      source,
      status: 'DECIDED',
      reason: decision ? `variant ${decision.winner} ${decision.automatic ? 'won' : 'was chosen by an operator'}` : null,
      variants,
      winner,
      confidence: decision?.confidence ?? null,
      decision: decision ?? null,
      holdOut,
    };
  }
  if (source.status === 'DRAFT' || source.status === 'SCHEDULED') {
    return { ...empty, variants, holdOut, status: 'COLLECTING', reason: 'the campaign has not started' };
  }
  const d = decideAbTest(
    variants.map((v) => v.sample),
    { minSample: source.abMinSample, significance: source.abSignificance },
  );
  const winner = d.status === 'WINNER' ? (variants.find((v) => v.variant === d.winner) ?? null) : null;
  return {
    source,
    status: statusOf(d),
    reason: d.reason,
    variants,
    winner,
    confidence: d.status === 'WINNER' || d.status === 'NOT_SIGNIFICANT' ? Math.round(d.confidence * 10000) / 10000 : null,
    decision: null,
    holdOut,
  };
}

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
  abTestResult: t.field({
    type: AbTestResultRef,
    select: AB_SELECT,
    resolve: (c, _args, ctx) => abResult({ ...c, abMetric: c.abMetric as AbMetric }, ctx),
  }),
}));

// ───────────── tenant analytics ─────────────

interface TenantSource extends Period {
  tenantId: string;
  timezone: string;
  bucket: TrendBucket;
  instanceLimit: number;
}

const TenantTotalsRef = builder.objectRef<TenantTotals>('TenantAnalyticsTotals').implement({
  description: "Sums of the period's campaigns' counters.",
  fields: (t) => ({
    campaigns: t.exposeInt('campaigns'),
    ...counterFields(t, TOTAL_KEYS),
    rates: t.field({ type: RatesRef, resolve: (x) => x }),
    cost: t.exposeFloat('cost', { nullable: true, description: 'Sum of the costs of the campaigns that have one.' }),
    conversionValue: t.exposeFloat('conversion_value'),
    roi: t.float({
      nullable: true,
      description: '(conversion value − cost) / cost over the campaigns that have a cost.',
      resolve: (x) => roi(x.costed_value, x.cost),
    }),
  }),
});

const TrendPointRef = builder.objectRef<TenantTotals & { bucket: Date }>('TenantTrendPoint').implement({
  description: 'The campaigns started in one bucket and their figures.',
  fields: (t) => ({
    start: t.field({ type: 'DateTime', resolve: (p) => p.bucket }),
    totals: t.field({ type: TenantTotalsRef, resolve: (p) => p }),
  }),
});

const InstanceRankRef = builder.objectRef<InstanceRank & { instance: WhatsAppInstance | null }>('InstanceRanking').implement({
  fields: (t) => ({
    instance: t.field({ type: WhatsAppInstanceRef, nullable: true, resolve: (r) => r.instance }),
    ...counterFields(t, RANKING_KEYS),
    ...rateFields(t, PROGRESS_RATE_KEYS, { describe: false }),
  }),
});

async function ranking(s: TenantSource, ctx: Context) {
  return batched(ctx, `ranking:${s.from.toISOString()}:${s.to.toISOString()}`, async () => {
    const rows = await instanceRanking(s.tenantId, s);
    const withInstance = (await withInstances(s.tenantId, new Map([['all', rows]]))).get('all') ?? [];
    return new Map([['all', withInstance]]);
  }).load('all');
}

const TenantAnalyticsRef = builder.objectRef<TenantSource>('TenantAnalytics').implement({
  description: 'The campaigns started in [from, to): totals, trend, best and worst instances, opt-outs.',
  fields: (t) => ({
    from: t.field({ type: 'DateTime', resolve: (s) => s.from }),
    to: t.field({ type: 'DateTime', resolve: (s) => s.to }),
    timezone: t.exposeString('timezone'),
    totals: t.field({ type: TenantTotalsRef, resolve: (s) => tenantTotals(s.tenantId, s) }),
    trend: t.field({ type: [TrendPointRef], resolve: (s) => tenantTrend(s.tenantId, s, s.bucket, s.timezone) }),
    bestInstances: t.field({
      type: [InstanceRankRef],
      description: 'Highest delivery rate first (then read rate, then volume).',
      resolve: async (s, _args, ctx) => (await ranking(s, ctx)).slice(0, s.instanceLimit),
    }),
    worstInstances: t.field({
      type: [InstanceRankRef],
      description: 'Lowest delivery rate first.',
      resolve: async (s, _args, ctx) => (await ranking(s, ctx)).slice(-s.instanceLimit).reverse(),
    }),
    optOuts: t.int({ description: "Contacts who opted out by replying to the period's campaigns.", resolve: async (s) => (await optOuts(s.tenantId, s)).opted_out }),
    optOutRate: t.float({
      nullable: true,
      description: "optOuts / delivered of the period's campaigns.",
      resolve: async (s) => {
        const [o, totals] = await Promise.all([optOuts(s.tenantId, s), tenantTotals(s.tenantId, s)]);
        return rate(o.opted_out, totals.delivered);
      },
    }),
    contactsOptedOut: t.int({
      description: 'Contacts of the tenant whose opt-out (by any means) falls in the period.',
      resolve: async (s) => (await optOuts(s.tenantId, s)).opted_out_in_period,
    }),
  }),
});

builder.queryFields((t) => ({
  tenantAnalytics: t.field({
    type: TenantAnalyticsRef,
    description: "The tenant's figures across the campaigns started in [from, to).",
    args: {
      from: t.arg({ type: 'DateTime', required: true }),
      to: t.arg({ type: 'DateTime', required: true, description: 'Exclusive.' }),
      trendBucket: t.arg({ type: TrendBucketEnum, defaultValue: 'DAY' }),
      instanceLimit: t.arg.int({ defaultValue: 3, validate: z.number().int().min(1).max(50) }),
    },
    resolve: async (_root, args, ctx) => {
      const period = { from: args.from, to: args.to };
      checkPeriod(period);
      const tenant = await prisma.tenant.findUniqueOrThrow({ where: { id: ctx.viewer.tenantId }, select: { timezone: true } });
      return { ...period, tenantId: ctx.viewer.tenantId, timezone: tenant.timezone, bucket: args.trendBucket ?? 'DAY', instanceLimit: args.instanceLimit ?? 3 };
    },
  }),
}));

// ───────────── mutations ─────────────

const ConversionRef = builder.objectRef<RecordedConversion>('Conversion').implement({
  description: 'A conversion attributed to a campaign recipient.',
  fields: (t) => ({
    id: t.exposeID('id'),
    recipientId: t.exposeID('recipientId'),
    campaign: t.field({
      type: CampaignRef,
      nullable: true,
      resolve: (c, _args, ctx) => prisma.campaign.findFirst({ where: { id: c.campaignId, tenantId: ctx.viewer.tenantId } }),
    }),
    contact: t.field({
      type: ContactRef,
      nullable: true,
      resolve: (c, _args, ctx) => prisma.contact.findFirst({ where: { id: c.contactId, tenantId: ctx.viewer.tenantId } }),
    }),
    value: t.exposeFloat('value', { nullable: true }),
    occurredAt: t.field({ type: 'DateTime', resolve: (c) => c.occurredAt }),
    externalId: t.exposeString('externalId', { nullable: true }),
    recorded: t.exposeBoolean('recorded', { description: 'False when this externalId had already been recorded: nothing changed.' }),
  }),
});

const RecordConversionInput = builder.inputType('RecordConversionInput', {
  description: 'Identify the recipient by recipientId (as in the campaign report), or by campaignId and phone.',
  fields: (t) => ({
    recipientId: t.id({ description: 'The recipient_id column of the campaign report.' }),
    campaignId: t.globalID({ for: CampaignRef }),
    phone: t.string({ validate: z.string().max(40) }),
    value: t.float({ description: 'Money value of the conversion (2 decimals).' }),
    occurredAt: t.field({ type: 'DateTime', description: 'When it happened; now when absent.' }),
    externalId: t.string({ description: 'Your id for the conversion: recording it again changes nothing.', validate: z.string().max(200) }),
  }),
});

const ReportLinkRef = builder.objectRef<{ url: string; expiresAt: Date }>('CampaignReportLink').implement({
  fields: (t) => ({
    url: t.exposeString('url', { description: 'GET it (no other credential needed) for the CSV report, one row per recipient.' }),
    expiresAt: t.field({ type: 'DateTime', resolve: (l) => l.expiresAt }),
  }),
});

builder.mutationFields((t) => ({
  recordConversion: t.field({
    type: ConversionRef,
    description: 'Records a conversion of a campaign recipient (idempotent by externalId).',
    authScopes: { operator: true },
    errors: { types: [ValidationError, ForbiddenError, NotFoundError, ConflictError] },
    args: { input: t.arg({ type: RecordConversionInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      recordConversion(
        ctx.viewer.tenantId,
        {
          recipientId: input.recipientId === null || input.recipientId === undefined ? null : String(input.recipientId),
          campaignId: input.campaignId?.id ?? null,
          phone: input.phone ?? null,
          value: input.value ?? null,
          occurredAt: input.occurredAt ?? null,
          externalId: input.externalId ?? null,
        },
        `api-key:${ctx.viewer.apiKeyId}`,
      ),
  }),
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
  chooseAbWinner: t.field({
    type: CampaignRef,
    description: 'Sends `variant` to the A/B hold-out now (when the automatic winner is off, or no variant is significantly better).',
    authScopes: { operator: true },
    errors: { types: [ValidationError, ForbiddenError, NotFoundError, ConflictError, InvalidTransitionError] },
    args: {
      campaignId: t.arg.globalID({ required: true, for: CampaignRef }),
      variant: t.arg.string({ required: true, validate: z.string().regex(/^[A-Z]$/, 'a variant is one capital letter') }),
    },
    resolve: async (_root, { campaignId, variant }, ctx) => {
      await chooseAbWinner(ctx.viewer.tenantId, campaignId.id, variant, `api-key:${ctx.viewer.apiKeyId}`);
      return prisma.campaign.findUniqueOrThrow({ where: { id: campaignId.id } });
    },
  }),
}));
