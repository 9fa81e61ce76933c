import { coalescedCounts, recount, stepEvents } from '../campaigns/counter-sql.js';
import { prisma } from '../../infra/db/client.js';
import { MAX_SERIES_BUCKETS, TIME_BUCKETS, type TimeBucket } from '../../domain/analytics.js';
import { type Counts, FIGURE_KEYS, type FigureKey, STEP_KEYS, type StepKey } from '../../domain/counters.js';
import { ValidationError } from '../../domain/errors.js';
import { Prisma } from '../../generated/prisma/client.js';

/**
 * Campaign analytics, each figure one aggregate query in PostgreSQL over the campaign's recipients
 * (reached through the recipient (campaign_id, …) indexes); no recipient row is loaded into Node.
 * Every function takes several campaigns at once, so a list of campaigns costs one query per figure,
 * and every query is scoped by the tenant as well as by the campaigns.
 */

/** Recipients that reached each step (src/domain/counters.ts): a recount, per instance, variation or variant. */
export type Figures = Counts<FigureKey>;

/** The recipient aggregates behind `Figures`, over recipients `r`. */
const FIGURE_COLUMNS = recount(FIGURE_KEYS, 'r');
/** The figures of the outer-joined aggregate `a`, 0 where it has no row. */
const JOINED_FIGURES = coalescedCounts(FIGURE_KEYS, 'a');

function group<T extends { campaign_id: string }>(ids: readonly string[], rows: T[]): Map<string, T[]> {
  const out = new Map<string, T[]>(ids.map((id) => [id, []]));
  for (const r of rows) out.get(r.campaign_id)?.push(r);
  return out;
}

export interface InstanceFigures extends Figures {
  campaign_id: string;
  instance_id: string;
  avg_send_ms: number | null;
  health_issues: number;
  pauses: number;
}

/**
 * Per sender instance: the campaign's figures on it, its average send duration, and how often its
 * health made it an issue during the campaign (HEALTH_ISSUE and INSTANCE_PAUSED log entries). The
 * campaign's instances that sent nothing yet are listed with zeros.
 */
export async function instanceFigures(tenantId: string, ids: readonly string[]): Promise<Map<string, InstanceFigures[]>> {
  const rows = await prisma.$queryRaw<InstanceFigures[]>`
    WITH agg AS (
      SELECT r.campaign_id, r.instance_id, ${FIGURE_COLUMNS}, avg(r.send_duration_ms)::float8 AS avg_send_ms
      FROM recipient r
      WHERE r.campaign_id = ANY(${ids}::uuid[]) AND r.tenant_id = ${tenantId}::uuid AND r.instance_id IS NOT NULL
      GROUP BY r.campaign_id, r.instance_id
    ), logs AS (
      SELECT l.campaign_id, l.instance_id,
             count(*) FILTER (WHERE l.type = 'HEALTH_ISSUE')::int AS health_issues,
             count(*) FILTER (WHERE l.type = 'INSTANCE_PAUSED')::int AS pauses
      FROM campaign_log l
      WHERE l.campaign_id = ANY(${ids}::uuid[]) AND l.tenant_id = ${tenantId}::uuid
        AND l.type IN ('HEALTH_ISSUE', 'INSTANCE_PAUSED') AND l.instance_id IS NOT NULL
      GROUP BY l.campaign_id, l.instance_id
    ), keys AS (
      SELECT campaign_id, instance_id FROM agg
      UNION SELECT campaign_id, instance_id FROM campaign_instance WHERE campaign_id = ANY(${ids}::uuid[]) AND tenant_id = ${tenantId}::uuid
      UNION SELECT campaign_id, instance_id FROM logs
    )
    SELECT k.campaign_id, k.instance_id,
           ${JOINED_FIGURES}, a.avg_send_ms,
           COALESCE(l.health_issues, 0) AS health_issues, COALESCE(l.pauses, 0) AS pauses
    FROM keys k
    LEFT JOIN agg a ON a.campaign_id = k.campaign_id AND a.instance_id = k.instance_id
    LEFT JOIN logs l ON l.campaign_id = k.campaign_id AND l.instance_id = k.instance_id
    ORDER BY k.campaign_id, COALESCE(a.sent, 0) DESC, k.instance_id`;
  return group(ids, rows);
}

export interface VariationFigures extends Figures {
  campaign_id: string;
  message_id: string;
}

/** Per variation (the message each recipient got, A/B hold-out released with the winner included). */
export async function variationFigures(tenantId: string, ids: readonly string[]): Promise<Map<string, VariationFigures[]>> {
  const rows = await prisma.$queryRaw<VariationFigures[]>`
    SELECT m.campaign_id, m.id AS message_id,
           ${JOINED_FIGURES}
    FROM campaign_message m
    LEFT JOIN (
      SELECT r.message_id, ${FIGURE_COLUMNS}
      FROM recipient r
      WHERE r.campaign_id = ANY(${ids}::uuid[]) AND r.tenant_id = ${tenantId}::uuid AND r.message_id IS NOT NULL
      GROUP BY r.message_id
    ) a ON a.message_id = m.id
    WHERE m.campaign_id = ANY(${ids}::uuid[]) AND m.tenant_id = ${tenantId}::uuid
    ORDER BY m.campaign_id, m.sort_order, m.created_at`;
  return group(ids, rows);
}

export interface VariantFigures extends Figures {
  campaign_id: string;
  variant: string;
  message_id: string | null;
  /** Delivered messages that were read / replied to / clicked / converted: the A/B test's successes. */
  read_delivered: number;
  replied_delivered: number;
  clicked_delivered: number;
  converted_delivered: number;
}

/**
 * Per A/B variant: only the recipients the test itself assigned (recipient.ab_variant set at start);
 * the hold-out released with the winner keeps ab_variant null and does not count here.
 */
export async function variantFigures(tenantId: string, ids: readonly string[]): Promise<Map<string, VariantFigures[]>> {
  const rows = await prisma.$queryRaw<VariantFigures[]>`
    WITH agg AS (
      SELECT r.campaign_id, r.ab_variant AS variant, ${FIGURE_COLUMNS},
             count(*) FILTER (WHERE r.delivered_at IS NOT NULL AND r.read_at IS NOT NULL)::int AS read_delivered,
             count(*) FILTER (WHERE r.delivered_at IS NOT NULL AND r.replied_at IS NOT NULL)::int AS replied_delivered,
             count(*) FILTER (WHERE r.delivered_at IS NOT NULL AND r.clicked_at IS NOT NULL)::int AS clicked_delivered,
             count(*) FILTER (WHERE r.delivered_at IS NOT NULL AND r.converted_at IS NOT NULL)::int AS converted_delivered
      FROM recipient r
      -- Test recipients always have their variation, so the (campaign_id, message_id) index skips a waiting hold-out.
      WHERE r.campaign_id = ANY(${ids}::uuid[]) AND r.tenant_id = ${tenantId}::uuid AND r.message_id IS NOT NULL AND r.ab_variant IS NOT NULL
      GROUP BY r.campaign_id, r.ab_variant
    ), variants AS (
      SELECT DISTINCT ON (campaign_id, ab_variant) campaign_id, ab_variant AS variant, id AS message_id
      FROM campaign_message
      WHERE campaign_id = ANY(${ids}::uuid[]) AND tenant_id = ${tenantId}::uuid AND ab_variant IS NOT NULL
      ORDER BY campaign_id, ab_variant, sort_order
    )
    SELECT COALESCE(a.campaign_id, v.campaign_id) AS campaign_id, COALESCE(a.variant, v.variant) AS variant, v.message_id,
           ${JOINED_FIGURES},
           COALESCE(a.read_delivered, 0) AS read_delivered, COALESCE(a.replied_delivered, 0) AS replied_delivered,
           COALESCE(a.clicked_delivered, 0) AS clicked_delivered, COALESCE(a.converted_delivered, 0) AS converted_delivered
    FROM agg a FULL JOIN variants v ON v.campaign_id = a.campaign_id AND v.variant = a.variant
    ORDER BY 1, 2`;
  return group(ids, rows);
}

/** The steps counted by hour of day and weekday. */
const ENGAGEMENT_KEYS = ['delivered', 'read'] as const satisfies readonly StepKey[];
const ENGAGEMENT_EVENTS = stepEvents(ENGAGEMENT_KEYS, 'r');

export interface SlotCounts extends Counts<(typeof ENGAGEMENT_KEYS)[number]> {
  campaign_id: string;
  slot: number;
}

/**
 * Deliveries and reads by local hour of day (0–23) or ISO weekday (1 = Monday … 7 = Sunday), in
 * `timezone` (the tenant's). Slots without events are absent; the caller fills them.
 */
export async function engagementSlots(
  tenantId: string,
  ids: readonly string[],
  timezone: string,
  slot: 'hour' | 'isodow',
): Promise<Map<string, SlotCounts[]>> {
  const part = Prisma.raw(slot === 'hour' ? "'hour'" : "'isodow'");
  const rows = await prisma.$queryRaw<SlotCounts[]>`
    SELECT r.campaign_id, date_part(${part}, v.at AT TIME ZONE ${timezone})::int AS slot, ${ENGAGEMENT_EVENTS.counts}
    FROM recipient r CROSS JOIN LATERAL (VALUES ${ENGAGEMENT_EVENTS.values}) AS v(kind, at)
    WHERE r.campaign_id = ANY(${ids}::uuid[]) AND r.tenant_id = ${tenantId}::uuid AND v.at IS NOT NULL
    GROUP BY 1, 2 ORDER BY 1, 2`;
  return group(ids, rows);
}

export interface SeriesPoint extends Counts<StepKey> {
  campaign_id: string;
  bucket: Date;
}

const SERIES_EVENTS = stepEvents(STEP_KEYS, 'r');

export interface SeriesRange {
  bucket: TimeBucket;
  from?: Date | null;
  to?: Date | null;
}

/**
 * Events per time bucket (minute, hour or local day in `timezone`): how many recipients were sent,
 * delivered, read, failed, replied, clicked (first click) and converted (first conversion) in it.
 * Only buckets with an event are returned, oldest first, within [from, to).
 */
export async function timeSeries(tenantId: string, ids: readonly string[], timezone: string, range: SeriesRange): Promise<Map<string, SeriesPoint[]>> {
  if (range.from && range.to && range.from >= range.to) throw ValidationError.field(['to'], 'must be after from');
  const unit = Prisma.raw(`'${TIME_BUCKETS[range.bucket]}'`);
  const rows = await prisma.$queryRaw<SeriesPoint[]>`
    SELECT r.campaign_id, date_trunc(${unit}, v.at AT TIME ZONE ${timezone}) AT TIME ZONE ${timezone} AS bucket, ${SERIES_EVENTS.counts}
    FROM recipient r CROSS JOIN LATERAL (VALUES ${SERIES_EVENTS.values}) AS v(kind, at)
    WHERE r.campaign_id = ANY(${ids}::uuid[]) AND r.tenant_id = ${tenantId}::uuid AND v.at IS NOT NULL
      AND (${range.from ?? null}::timestamptz IS NULL OR v.at >= ${range.from ?? null}::timestamptz)
      AND (${range.to ?? null}::timestamptz IS NULL OR v.at < ${range.to ?? null}::timestamptz)
    GROUP BY 1, 2 ORDER BY 1, 2
    LIMIT ${ids.length * MAX_SERIES_BUCKETS + 1}`;
  const byCampaign = group(ids, rows);
  for (const points of byCampaign.values()) {
    if (points.length > MAX_SERIES_BUCKETS) {
      throw ValidationError.field(['bucket'], `more than ${MAX_SERIES_BUCKETS} buckets: narrow from/to or use a larger bucket`);
    }
  }
  return byCampaign;
}

export interface ErrorCount {
  campaign_id: string;
  code: string;
  message: string;
  count: number;
}

/** The most frequent errors of failed and unknown-outcome recipients, by code and message. */
export async function topErrors(tenantId: string, ids: readonly string[], limit: number): Promise<Map<string, ErrorCount[]>> {
  const rows = await prisma.$queryRaw<ErrorCount[]>`
    SELECT campaign_id, code, message, count FROM (
      SELECT r.campaign_id, COALESCE(r.error_code, 'UNSPECIFIED') AS code, COALESCE(r.error, '') AS message, count(*)::int AS count,
             row_number() OVER (PARTITION BY r.campaign_id ORDER BY count(*) DESC, COALESCE(r.error_code, 'UNSPECIFIED'), COALESCE(r.error, '')) AS rank
      FROM recipient r
      WHERE r.campaign_id = ANY(${ids}::uuid[]) AND r.tenant_id = ${tenantId}::uuid AND r.status IN ('FAILED', 'UNKNOWN')
      GROUP BY r.campaign_id, 2, 3
    ) e WHERE rank <= ${limit} ORDER BY campaign_id, rank`;
  return group(ids, rows);
}

export interface DurationStats {
  campaign_id: string;
  count: number;
  average: number | null;
  p50: number | null;
  p95: number | null;
  max: number | null;
}

/** Send durations (request to Evolution until its answer) of accepted sends: average, median, p95, max. */
export async function sendDurations(tenantId: string, ids: readonly string[]): Promise<Map<string, DurationStats>> {
  const rows = await prisma.$queryRaw<DurationStats[]>`
    SELECT r.campaign_id, count(*)::int AS count, avg(r.send_duration_ms)::float8 AS average,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY r.send_duration_ms)::float8 AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY r.send_duration_ms)::float8 AS p95,
           max(r.send_duration_ms)::float8 AS max
    FROM recipient r
    WHERE r.campaign_id = ANY(${ids}::uuid[]) AND r.tenant_id = ${tenantId}::uuid AND r.send_duration_ms IS NOT NULL
    GROUP BY r.campaign_id`;
  const out = new Map<string, DurationStats>();
  for (const id of ids) out.set(id, { campaign_id: id, count: 0, average: null, p50: null, p95: null, max: null });
  for (const r of rows) out.set(r.campaign_id, r);
  return out;
}

/** Log types that mark the campaign's course (the per-message entries are in campaign.logs). */
export const TIMELINE_TYPES = [
  'CREATED',
  'UPDATED',
  'SCHEDULED',
  'STARTED',
  'PAUSED',
  'RESUMED',
  'COMPLETED',
  'CANCELLED',
  'INSTANCE_PAUSED',
  'INSTANCE_RESUMED',
  'ROTATION_CHANGED',
  'HEALTH_ISSUE',
  'WINDOW_CLOSED',
  'WINDOW_OPENED',
  'AB_WINNER',
] as const;

export interface TimelineEntry {
  campaign_id: string;
  id: bigint;
  type: string;
  severity: string;
  message: string;
  details: unknown;
  instance_id: string | null;
  actor: string | null;
  created_at: Date;
}

/** The campaign's milestones in order (start, pauses, windows, instance trouble, A/B winner, end). */
export async function timeline(tenantId: string, ids: readonly string[], limit: number): Promise<Map<string, TimelineEntry[]>> {
  const rows = await prisma.$queryRaw<TimelineEntry[]>`
    SELECT t.campaign_id, t.id, t.type::text AS type, t.severity::text AS severity, t.message, t.details, t.instance_id, t.actor, t.created_at
    FROM unnest(${ids}::uuid[]) AS c(id)
    CROSS JOIN LATERAL (
      -- OFFSET 0 keeps the planner on the (campaign_id, type, created_at) index: walking the campaign's
      -- whole log in time order to find a few milestones among millions of message entries is slower.
      SELECT x.* FROM (
        SELECT l.* FROM campaign_log l
        WHERE l.campaign_id = c.id AND l.tenant_id = ${tenantId}::uuid AND l.type = ANY(${[...TIMELINE_TYPES]}::"LogType"[])
        OFFSET 0
      ) x
      ORDER BY x.created_at, x.id
      LIMIT ${limit}
    ) t
    ORDER BY t.campaign_id, t.created_at, t.id`;
  return group(ids, rows);
}
