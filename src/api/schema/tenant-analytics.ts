import { z } from 'zod';
import { checkPeriod, type InstanceRank, instanceRanking, optOuts, type Period, RANKING_KEYS, type TenantTotals, tenantTotals, tenantTrend } from '../../features/analytics/tenant.js';
import { prisma } from '../../infra/db/client.js';
import { roi, TREND_BUCKETS, type TrendBucket } from '../../domain/analytics.js';
import { PROGRESS_RATE_KEYS, rate, TOTAL_KEYS } from '../../domain/counters.js';
import type { WhatsAppInstance } from '../../generated/prisma/client.js';
import { batched, withInstances } from './batching.js';
import { builder } from './builder.js';
import type { Context } from './context.js';
import { counterFields, RatesRef, rateFields } from './counters.js';
import { WhatsAppInstanceRef } from './sender.js';

// The tenant's analytics over a period (Query.tenantAnalytics).

const TrendBucketEnum = builder.enumType('AnalyticsTrendBucket', { values: Object.keys(TREND_BUCKETS) as TrendBucket[] });

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
