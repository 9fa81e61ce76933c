// The analytics benchmark's baseline: every figure of `campaign.analytics` written by hand in SQL,
// straight on the tables with the same inputs the API gets (tenant id and campaign id; the tenant's
// zone is read in the statements), issued all at once on a pg pool of the product's size. Written
// independently of src/features/analytics (each aggregate the plain way, the cheapest shape we found), and
// checked against the API's answer before anything is timed (`expectedAnalytics`).
import type pg from 'pg';

/** The figures columns shared by instances, variations and variants. */
const FIGURES = `count(*)::int AS targeted, count(sent_at)::int AS sent, count(delivered_at)::int AS delivered, count(read_at)::int AS read,
  count(replied_at)::int AS replied, count(clicked_at)::int AS clicked, count(converted_at)::int AS converted,
  count(*) FILTER (WHERE status = 'FAILED')::int AS failed`;

const TIMELINE_TYPES = `'CREATED', 'UPDATED', 'SCHEDULED', 'STARTED', 'PAUSED', 'RESUMED', 'COMPLETED', 'CANCELLED', 'INSTANCE_PAUSED',
  'INSTANCE_RESUMED', 'ROTATION_CHANGED', 'HEALTH_ISSUE', 'WINDOW_CLOSED', 'WINDOW_OPENED', 'AB_WINNER'`;

const TZ = '(SELECT timezone FROM tenant WHERE id = $2)';

export const HAND_WRITTEN = {
  summary: `
    SELECT t.timezone, c.targeted_count AS targeted, c.sent_count AS sent, c.delivered_count AS delivered, c.read_count AS read,
           c.replied_count AS replied, c.clicked_count AS clicked, c.converted_count AS converted, c.failed_count AS failed,
           c.skipped_count AS skipped, c.unknown_count AS unknown, c.remaining_count AS remaining,
           c.cost::float8 AS cost, c.conversion_value::float8 AS conversion_value
    FROM campaign c JOIN tenant t ON t.id = c.tenant_id
    WHERE c.id = $1 AND c.tenant_id = $2`,
  instances: `
    SELECT i.id, i.name, i.health_score, COALESCE(a.targeted, 0) AS targeted, COALESCE(a.sent, 0) AS sent, COALESCE(a.delivered, 0) AS delivered,
           COALESCE(a.read, 0) AS read, COALESCE(a.replied, 0) AS replied, COALESCE(a.clicked, 0) AS clicked, COALESCE(a.converted, 0) AS converted,
           COALESCE(a.failed, 0) AS failed, a.avg_ms, COALESCE(l.health_issues, 0) AS health_issues, COALESCE(l.pauses, 0) AS pauses
    FROM campaign_instance ci
    JOIN whatsapp_instance i ON i.id = ci.instance_id
    LEFT JOIN (
      SELECT instance_id, ${FIGURES}, avg(send_duration_ms)::float8 AS avg_ms
      FROM recipient WHERE campaign_id = $1 AND tenant_id = $2 AND instance_id IS NOT NULL GROUP BY instance_id
    ) a ON a.instance_id = ci.instance_id
    LEFT JOIN (
      SELECT instance_id, count(*) FILTER (WHERE type = 'HEALTH_ISSUE')::int AS health_issues, count(*) FILTER (WHERE type = 'INSTANCE_PAUSED')::int AS pauses
      FROM campaign_log WHERE campaign_id = $1 AND tenant_id = $2 AND type IN ('HEALTH_ISSUE', 'INSTANCE_PAUSED') GROUP BY instance_id
    ) l ON l.instance_id = ci.instance_id
    WHERE ci.campaign_id = $1 AND ci.tenant_id = $2
    ORDER BY COALESCE(a.sent, 0) DESC, i.id`,
  variations: `
    SELECT m.id, m.text, m.ab_variant, COALESCE(a.targeted, 0) AS targeted, COALESCE(a.sent, 0) AS sent, COALESCE(a.delivered, 0) AS delivered,
           COALESCE(a.read, 0) AS read, COALESCE(a.replied, 0) AS replied, COALESCE(a.clicked, 0) AS clicked, COALESCE(a.converted, 0) AS converted,
           COALESCE(a.failed, 0) AS failed
    FROM campaign_message m
    LEFT JOIN (SELECT message_id, ${FIGURES} FROM recipient WHERE campaign_id = $1 AND tenant_id = $2 GROUP BY message_id) a ON a.message_id = m.id
    WHERE m.campaign_id = $1 AND m.tenant_id = $2
    ORDER BY m.sort_order, m.created_at`,
  // sample = delivered; success = delivered and reached the campaign's A/B metric.
  variants: `
    SELECT a.*, (SELECT m.id FROM campaign_message m WHERE m.campaign_id = $1 AND m.ab_variant = a.variant ORDER BY m.sort_order LIMIT 1) AS message_id
    FROM (
      SELECT r.ab_variant AS variant, ${FIGURES.replace(/\b(sent_at|delivered_at|read_at|replied_at|clicked_at|converted_at|status)\b/g, 'r.$1')},
             count(r.delivered_at)::int AS sample,
             count(*) FILTER (WHERE r.delivered_at IS NOT NULL AND CASE c.ab_metric WHEN 'READ_RATE' THEN r.read_at WHEN 'REPLY_RATE' THEN r.replied_at
                                     WHEN 'CLICK_RATE' THEN r.clicked_at ELSE r.converted_at END IS NOT NULL)::int AS successes
      FROM recipient r JOIN campaign c ON c.id = r.campaign_id
      WHERE r.campaign_id = $1 AND r.tenant_id = $2 AND r.ab_variant IS NOT NULL
      GROUP BY r.ab_variant
    ) a ORDER BY a.variant`,
  // One pass over the campaign's rows for both events (two UNION ALL scans measured slower).
  byHourOfDay: `
    SELECT extract(hour FROM e.at AT TIME ZONE ${TZ})::int AS slot, count(*) FILTER (WHERE e.kind = 'd')::int AS delivered, count(*) FILTER (WHERE e.kind = 'r')::int AS read
    FROM recipient, LATERAL (VALUES ('d', delivered_at), ('r', read_at)) AS e(kind, at)
    WHERE campaign_id = $1 AND tenant_id = $2 AND e.at IS NOT NULL
    GROUP BY 1 ORDER BY 1`,
  byWeekday: `
    SELECT extract(isodow FROM e.at AT TIME ZONE ${TZ})::int AS slot, count(*) FILTER (WHERE e.kind = 'd')::int AS delivered, count(*) FILTER (WHERE e.kind = 'r')::int AS read
    FROM recipient, LATERAL (VALUES ('d', delivered_at), ('r', read_at)) AS e(kind, at)
    WHERE campaign_id = $1 AND tenant_id = $2 AND e.at IS NOT NULL
    GROUP BY 1 ORDER BY 1`,
  // Hourly buckets of local time in the tenant's zone (not every zone is a whole number of hours from UTC).
  timeSeries: `
    SELECT date_trunc('hour', at AT TIME ZONE ${TZ}) AT TIME ZONE ${TZ} AS start,
           count(*) FILTER (WHERE kind = 's')::int AS sent, count(*) FILTER (WHERE kind = 'd')::int AS delivered,
           count(*) FILTER (WHERE kind = 'r')::int AS read, count(*) FILTER (WHERE kind = 'f')::int AS failed,
           count(*) FILTER (WHERE kind = 'p')::int AS replied, count(*) FILTER (WHERE kind = 'c')::int AS clicked,
           count(*) FILTER (WHERE kind = 'v')::int AS converted
    FROM recipient, LATERAL (VALUES ('s', sent_at), ('d', delivered_at), ('r', read_at), ('f', failed_at), ('p', replied_at), ('c', clicked_at), ('v', converted_at)) AS e(kind, at)
    WHERE campaign_id = $1 AND tenant_id = $2 AND at IS NOT NULL
    GROUP BY 1 ORDER BY 1`,
  topErrors: `
    SELECT COALESCE(error_code, 'UNSPECIFIED') AS code, COALESCE(error, '') AS message, count(*)::int AS count
    FROM recipient WHERE campaign_id = $1 AND tenant_id = $2 AND status IN ('FAILED', 'UNKNOWN')
    GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 10`,
  sendDuration: `
    SELECT count(*)::int AS count, avg(send_duration_ms)::float8 AS average,
           percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY send_duration_ms) AS pcts, max(send_duration_ms)::float8 AS max
    FROM recipient WHERE campaign_id = $1 AND tenant_id = $2 AND send_duration_ms IS NOT NULL`,
  timeline: `
    SELECT id, type::text AS type, severity::text AS severity, message, details, instance_id, actor, created_at
    FROM campaign_log WHERE campaign_id = $1 AND tenant_id = $2 AND type IN (${TIMELINE_TYPES})
    ORDER BY created_at, id LIMIT 100`,
} as const;

export type HandWrittenRows = { [K in keyof typeof HAND_WRITTEN]: Array<Record<string, unknown>> };

/** Every hand-written statement at once on `pool` (as the API's resolvers run theirs): the baseline's unit of work. */
export async function handWrittenAnalytics(pool: pg.Pool, tenantId: string, campaignId: string): Promise<HandWrittenRows> {
  const keys = Object.keys(HAND_WRITTEN) as Array<keyof typeof HAND_WRITTEN>;
  const results = await Promise.all(keys.map((k) => pool.query(HAND_WRITTEN[k], [campaignId, tenantId])));
  return Object.fromEntries(keys.map((k, i) => [k, results[i]?.rows ?? []])) as HandWrittenRows;
}

const round = (x: number, places: number) => Math.round(x * 10 ** places) / 10 ** places;
const rate = (n: number, d: number) => (d > 0 ? round(n / d, 4) : null);
const WEEKDAYS = ['MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY', 'SUNDAY'];

type Row = Record<string, unknown>;
const n = (r: Row, k: string) => Number(r[k] ?? 0);

function figures(r: Row) {
  const f = { targeted: n(r, 'targeted'), sent: n(r, 'sent'), delivered: n(r, 'delivered'), read: n(r, 'read'), replied: n(r, 'replied'), clicked: n(r, 'clicked'), converted: n(r, 'converted'), failed: n(r, 'failed') };
  return { ...f, deliveryRate: rate(f.delivered, f.sent), readRate: rate(f.read, f.delivered), replyRate: rate(f.replied, f.delivered), clickRate: rate(f.clicked, f.delivered), conversionRate: rate(f.converted, f.delivered) };
}

function slots(rows: Row[], from: number, to: number) {
  const by = new Map(rows.map((r) => [n(r, 'slot'), r]));
  return Array.from({ length: to - from + 1 }, (_, i) => {
    const r = by.get(from + i);
    return { slot: from + i, delivered: r ? n(r, 'delivered') : 0, read: r ? n(r, 'read') : 0 };
  });
}

/**
 * The baseline's rows in the shape of the benchmark's GraphQL answer, for the figures both sides
 * compute (ids are compared by name/variant instead: the API returns global ids).
 */
export function expectedAnalytics(rows: HandWrittenRows) {
  const s = rows.summary[0];
  if (!s) throw new Error('the campaign is not there');
  const funnel = Object.fromEntries(['targeted', 'sent', 'delivered', 'read', 'replied', 'clicked', 'converted', 'failed', 'skipped', 'unknown', 'remaining'].map((k) => [k, n(s, k)]));
  const f = figures(s);
  const cost = s.cost === null ? null : Number(s.cost);
  const value = Number(s.conversion_value);
  const d = rows.sendDuration[0] ?? {};
  const pcts = (d.pcts as number[] | null) ?? [null, null];
  return {
    timezone: s.timezone,
    funnel,
    rates: { deliveryRate: f.deliveryRate, readRate: f.readRate, replyRate: f.replyRate, clickRate: f.clickRate, conversionRate: f.conversionRate },
    revenue: {
      cost,
      conversionValue: value,
      roi: cost !== null && cost > 0 ? round((value - cost) / cost, 4) : null,
      costPerConversion: cost !== null && f.converted > 0 ? round(cost / f.converted, 2) : null,
    },
    instances: rows.instances.map((r) => ({
      name: r.name,
      figures: figures(r),
      averageSendMs: r.avg_ms === null ? null : round(Number(r.avg_ms), 1),
      healthScore: Number(r.health_score),
      healthIssues: n(r, 'health_issues'),
      pauses: n(r, 'pauses'),
    })),
    variations: rows.variations.map((r) => ({ abVariant: r.ab_variant, text: r.text, figures: figures(r) })),
    abVariants: rows.variants.map((r) => ({
      variant: r.variant,
      figures: figures(r),
      sample: n(r, 'sample'),
      successes: n(r, 'successes'),
      metricRate: n(r, 'sample') > 0 ? round(n(r, 'successes') / n(r, 'sample'), 4) : 0,
    })),
    byHourOfDay: slots(rows.byHourOfDay, 0, 23).map((x) => ({ hour: x.slot, delivered: x.delivered, read: x.read })),
    byWeekday: slots(rows.byWeekday, 1, 7).map((x) => ({ weekday: WEEKDAYS[x.slot - 1], isoWeekday: x.slot, delivered: x.delivered, read: x.read })),
    timeSeries: rows.timeSeries.map((r) => ({
      start: (r.start as Date).toISOString(),
      sent: n(r, 'sent'),
      delivered: n(r, 'delivered'),
      read: n(r, 'read'),
      failed: n(r, 'failed'),
      replied: n(r, 'replied'),
      clicked: n(r, 'clicked'),
      converted: n(r, 'converted'),
    })),
    topErrors: rows.topErrors.map((r) => ({ code: r.code, message: r.message, count: n(r, 'count') })),
    sendDuration: { count: n(d, 'count'), averageMs: (d.average as number | null) ?? null, medianMs: pcts[0] ?? null, p95Ms: pcts[1] ?? null, maxMs: (d.max as number | null) ?? null },
    timeline: rows.timeline.map((r) => ({ at: (r.created_at as Date).toISOString(), type: r.type, severity: r.severity, message: r.message, actor: r.actor })),
  };
}
