import { counterSums, recount } from '../campaigns/counter-sql.js';
import { prisma } from '../../infra/db/client.js';
import { TREND_BUCKETS, type TrendBucket } from '../../domain/analytics.js';
import { type CounterKey, type Counts, TOTAL_KEYS, type TotalKey } from '../../domain/counters.js';
import { ValidationError } from '../../domain/errors.js';
import { Prisma } from '../../generated/prisma/client.js';

/**
 * The tenant's figures for a period: the campaigns started in [from, to). Totals and trends come
 * from the campaigns' transactional counters (one row per campaign, never the recipients); the
 * instance ranking aggregates those campaigns' recipients in PostgreSQL.
 */

export interface Period {
  from: Date;
  to: Date;
}

export interface TenantTotals extends Counts<TotalKey> {
  campaigns: number;
  cost: number | null;
  conversion_value: number;
  /** Conversion value of the campaigns that have a cost (the ROI's numerator). */
  costed_value: number;
}

export interface TrendPoint extends TenantTotals {
  bucket: Date;
}

export function checkPeriod(p: Period) {
  if (!(p.from < p.to)) throw ValidationError.field(['to'], 'must be after from');
  if (p.to.getTime() - p.from.getTime() > 3 * 366 * 86_400_000) throw ValidationError.field(['from'], 'a period covers at most three years');
}

const TOTAL_COLUMNS = Prisma.sql`
  count(*)::int AS campaigns,
  ${counterSums(TOTAL_KEYS, 'c')},
  sum(c.cost)::float8 AS cost,
  COALESCE(sum(c.conversion_value), 0)::float8 AS conversion_value,
  COALESCE(sum(c.conversion_value) FILTER (WHERE c.cost IS NOT NULL), 0)::float8 AS costed_value`;

function inPeriod(tenantId: string, p: Period) {
  return Prisma.sql`c.tenant_id = ${tenantId}::uuid AND c.started_at >= ${p.from} AND c.started_at < ${p.to}`;
}

export async function tenantTotals(tenantId: string, p: Period): Promise<TenantTotals> {
  const [row] = await prisma.$queryRaw<TenantTotals[]>`SELECT ${TOTAL_COLUMNS} FROM campaign c WHERE ${inPeriod(tenantId, p)}`;
  return row as TenantTotals;
}

/** Totals per day, week or month of the campaigns' start, in the tenant's time zone; empty buckets omitted. */
export async function tenantTrend(tenantId: string, p: Period, bucket: TrendBucket, timezone: string): Promise<TrendPoint[]> {
  const unit = Prisma.raw(`'${TREND_BUCKETS[bucket]}'`);
  return prisma.$queryRaw<TrendPoint[]>`
    SELECT date_trunc(${unit}, c.started_at AT TIME ZONE ${timezone}) AT TIME ZONE ${timezone} AS bucket, ${TOTAL_COLUMNS}
    FROM campaign c WHERE ${inPeriod(tenantId, p)}
    GROUP BY 1 ORDER BY 1`;
}

/** What instances are ranked by. */
export const RANKING_KEYS = ['sent', 'delivered', 'read', 'failed', 'replied'] as const satisfies readonly CounterKey[];

export interface InstanceRank extends Counts<(typeof RANKING_KEYS)[number]> {
  instance_id: string;
}

/**
 * Every instance that sent for the period's campaigns, best first: by delivery rate, then read rate,
 * then volume. Callers take the head (best) and the tail (worst).
 */
export async function instanceRanking(tenantId: string, p: Period): Promise<InstanceRank[]> {
  return prisma.$queryRaw<InstanceRank[]>`
    SELECT r.instance_id, ${recount(RANKING_KEYS, 'r')}
    FROM campaign c JOIN recipient r ON r.campaign_id = c.id AND r.tenant_id = c.tenant_id
    WHERE ${inPeriod(tenantId, p)} AND r.instance_id IS NOT NULL
    GROUP BY r.instance_id
    HAVING count(r.sent_at) > 0 OR count(*) FILTER (WHERE r.status = 'FAILED') > 0
    ORDER BY count(r.delivered_at)::float8 / NULLIF(count(r.sent_at), 0) DESC NULLS LAST,
             count(r.read_at)::float8 / NULLIF(count(r.delivered_at), 0) DESC NULLS LAST,
             count(r.sent_at) DESC, r.instance_id`;
}

export interface OptOuts {
  /** Distinct contacts who opted out by replying to one of the period's campaigns. */
  opted_out: number;
  /** Contacts of the tenant whose opt-out (by any means) falls in the period. */
  opted_out_in_period: number;
}

export async function optOuts(tenantId: string, p: Period): Promise<OptOuts> {
  const [row] = await prisma.$queryRaw<OptOuts[]>`
    SELECT
      (SELECT count(DISTINCT rp.contact_id)::int FROM reply rp JOIN campaign c ON c.id = rp.campaign_id
       WHERE rp.tenant_id = ${tenantId}::uuid AND rp.is_opt_out AND rp.contact_id IS NOT NULL AND ${inPeriod(tenantId, p)}) AS opted_out,
      (SELECT count(*)::int FROM contact ct
       WHERE ct.tenant_id = ${tenantId}::uuid AND ct.opted_out AND ct.opted_out_at >= ${p.from} AND ct.opted_out_at < ${p.to}) AS opted_out_in_period`;
  return row as OptOuts;
}
