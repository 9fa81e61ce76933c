import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendLog } from '../../src/features/campaigns/logs.js';
import { prisma } from '../../src/infra/db/client.js';
import { shortLinkUrl, withTrackedLinks } from '../../src/features/links/track.js';
import { graphql } from '../gql/index.js';
import { gqlOk } from '../helpers/graphql.js';
import { globalId, uuidOf } from '../helpers/ids.js';
import { type Stack, startStack } from '../helpers/stack.js';
import {
  applyReceipt,
  applyReply,
  campaignWith,
  click,
  contactsFor,
  freeze,
  keyId,
  markSent,
  markUnsent,
  prng,
  type Rng,
  tenantWithInstances,
} from './fixtures.js';

const Analytics = graphql(`
  query PropertyAnalytics($id: ID!) {
    campaign(id: $id) {
      analytics {
        timezone
        funnel { targeted sent delivered read replied clicked converted failed skipped unknown remaining }
        rates { deliveryRate readRate replyRate clickRate conversionRate }
        revenue { cost conversionValue roi costPerConversion }
        instances {
          instance { id }
          figures { targeted sent delivered read replied clicked converted failed deliveryRate readRate replyRate clickRate conversionRate }
          averageSendMs healthIssues pauses
        }
        variations {
          message { id }
          figures { targeted sent delivered read replied clicked converted failed deliveryRate readRate replyRate clickRate conversionRate }
        }
        abVariants { variant sample successes metricRate figures { targeted sent delivered read replied clicked converted failed } }
        byHourOfDay { hour delivered read }
        byWeekday { isoWeekday weekday delivered read }
        topErrors(limit: 5) { code message count }
        sendDuration { count averageMs medianMs p95Ms maxMs }
        timeline { type message }
      }
    }
  }
`);

const Series = graphql(`
  query PropertySeries($id: ID!) {
    campaign(id: $id) {
      analytics {
        hourly: timeSeries(bucket: HOUR) { start sent delivered read failed replied clicked converted }
        daily: timeSeries(bucket: DAY) { start sent delivered read failed replied clicked converted }
        minutes: timeSeries(bucket: MINUTE, from: "2000-01-01T00:00:00Z", to: "2100-01-01T00:00:00Z") { start sent delivered read failed replied clicked converted }
      }
    }
  }
`);

const Tenant = graphql(`
  query PropertyTenant($from: DateTime!, $to: DateTime!) {
    tenantAnalytics(from: $from, to: $to, trendBucket: DAY, instanceLimit: 2) {
      timezone
      totals { campaigns targeted sent delivered read replied clicked converted failed skipped unknown cost conversionValue roi rates { deliveryRate readRate } }
      trend { start totals { campaigns targeted sent delivered read replied failed } }
      bestInstances { instance { id } sent delivered read failed deliveryRate }
      worstInstances { instance { id } sent delivered read failed deliveryRate }
      optOuts
      optOutRate
      contactsOptedOut
    }
  }
`);

const RecordConversion = graphql(`
  mutation PropertyConversion($input: RecordConversionInput!) {
    recordConversion(input: $input) {
      __typename
      ... on RecordConversionSuccess { data { id recorded value } }
      ... on Error { message }
    }
  }
`);

const HOUR = 3_600_000;
const round4 = (x: number) => Math.round(x * 10000) / 10000;
const rate = (n: number, d: number) => (d > 0 ? round4(n / d) : null);

interface Built {
  campaignId: string;
  timezone: string;
}

/**
 * One random campaign: a random audience frozen into recipients (some held out for an A/B winner),
 * random dispatch outcomes, then random receipts, replies, clicks and conversions through the real
 * paths (webhook processor, replies pipeline, the /l/ route, the recordConversion mutation).
 */
async function buildCampaign(stack: Stack, rng: Rng, t: Awaited<ReturnType<typeof tenantWithInstances>>, startedAt: Date): Promise<Built> {
  const n = rng.int(60, 110);
  const contacts = await contactsFor(t.tenantId, n);
  const ab = rng.chance(0.7);
  const variants = ab ? ['A', 'B', 'C'].slice(0, rng.int(2, 3)) : [null, null];
  const campaign = await campaignWith(t.tenantId, {
    startedAt,
    status: rng.pick(['RUNNING', 'COMPLETED'] as const),
    cost: rng.chance(0.6) ? rng.int(1000, 90000) / 100 : null,
    instanceIds: t.instances.map((i) => i.id),
    ab: ab ? { share: rng.pick([0, 0.5]), metric: rng.pick(['READ_RATE', 'REPLY_RATE', 'CLICK_RATE', 'CONVERSION_RATE'] as const), minSample: 10 } : undefined,
    messages: variants.map((v, i) => ({
      text: i % 2 === 0 ? `Oferta ${i}: https://loja.example.com/p/${i}?utm=wa e https://loja.example.com/sobre` : `Mensagem ${i} sem link`,
      abVariant: v,
      trackLinks: i % 2 === 0,
    })),
  });
  const share = campaign.abEnabled ? campaign.abTestShare : 0;
  const frozen = await freeze(
    t.tenantId,
    campaign.id,
    contacts.map((c) => {
      if (share > 0 && rng.chance(share)) return { contactId: c.id, phone: c.phone, messageId: null, abVariant: null, status: 'PENDING' as const };
      const m = rng.pick(campaign.messages);
      return { contactId: c.id, phone: c.phone, messageId: m.id, abVariant: m.abVariant, status: 'QUEUED' as const };
    }),
  );
  const queued = frozen.filter((r) => r.status === 'QUEUED');
  const base = startedAt.getTime();
  const at = (maxHours: number, from = base) => new Date(from + rng.int(1, maxHours * 60) * 60_000);

  const sends: Array<{ id: string; instanceId: string; sentAt: Date; durationMs: number; keyId: string; phone: string; messageId: string }> = [];
  const failed: Parameters<typeof markUnsent>[2] = [];
  const unknown: Parameters<typeof markUnsent>[2] = [];
  const skipped: Parameters<typeof markUnsent>[2] = [];
  for (const r of queued) {
    const roll = rng.next();
    const instanceId = rng.pick(t.instances).id;
    if (roll < 0.06) continue; // still queued
    if (roll < 0.1) skipped.push({ id: r.id, instanceId: null, at: at(48), error: 'campaign cancelled' });
    else if (roll < 0.17) {
      const [code, error] = rng.pick([
        ['NOT_ON_WHATSAPP', 'the number is not on WhatsApp'],
        ['REJECTED', 'Evolution refused the message (400): Bad Request'],
        ['UNAVAILABLE', 'gave up after 3 attempts: connect ECONNREFUSED'],
      ] as const);
      failed.push({ id: r.id, instanceId, at: at(48), code, error });
    } else if (roll < 0.2) unknown.push({ id: r.id, instanceId, at: at(48), code: 'OUTCOME_UNKNOWN', error: 'timed out after 15000 ms' });
    else sends.push({ id: r.id, instanceId, sentAt: at(60), durationMs: rng.int(60, 4000), keyId: keyId(), phone: r.phone, messageId: r.messageId as string });
  }
  await markSent(campaign.id, sends);
  await markUnsent(campaign.id, 'FAILED', failed);
  await markUnsent(campaign.id, 'UNKNOWN', unknown);
  await markUnsent(campaign.id, 'SKIPPED', skipped);

  for (const s of sends) {
    // Any subset of the receipts, in any order, some twice: the real processor sorts it out.
    const receipts = rng.shuffle(['SERVER_ACK', 'DELIVERY_ACK', 'READ', 'ERROR'].filter((st) => rng.chance(st === 'ERROR' ? 0.08 : 0.7)));
    if (receipts.length && rng.chance(0.2)) receipts.push(rng.pick(receipts));
    for (const status of receipts) await applyReceipt(t.tenantId, s.instanceId, s.keyId, status, at(40, s.sentAt.getTime()));
  }

  const texts = new Map(campaign.messages.map((m) => [m.id, m.text]));
  for (const s of sends) {
    if (rng.chance(0.25)) await applyReply(t.tenantId, s.instanceId, s.phone, rng.chance(0.15) ? 'SAIR' : 'Quero saber mais', at(47, s.sentAt.getTime()));
    const text = texts.get(s.messageId) as string;
    const sent = await withTrackedLinks(t.tenantId, campaign.id, s.id, s.messageId, text);
    const codes = [...sent.matchAll(/\/l\/([A-Za-z0-9]{12})/g)].map((m) => m[1] as string);
    if (text.includes('https://loja.example.com/p/')) expect(codes.length, sent).toBe(2);
    if (codes.length && rng.chance(0.2)) expect((await click(shortLinkUrl(codes[0] as string), 'WhatsApp/2.24.1 A')).status).toBe(302);
    if (codes.length && rng.chance(0.35)) {
      for (let k = rng.int(1, 3); k > 0; k--) expect((await click(shortLinkUrl(rng.pick(codes)))).status).toBe(302);
    }
    if (rng.chance(0.15)) {
      const externalId = rng.chance(0.5) ? `order-${s.id}` : null;
      const input = { recipientId: s.id, value: rng.int(100, 50000) / 100, occurredAt: at(30, s.sentAt.getTime()).toISOString(), externalId };
      const first = await gqlOk(stack.url, t.key, RecordConversion, { input });
      expect(first.recordConversion).toMatchObject({ __typename: 'RecordConversionSuccess', data: { recorded: true } });
      if (externalId) {
        const again = await gqlOk(stack.url, t.key, RecordConversion, { input });
        expect(again.recordConversion).toMatchObject({ __typename: 'RecordConversionSuccess', data: { recorded: false } });
      }
    }
  }

  for (let k = rng.int(0, 4); k > 0; k--) {
    const instanceId = rng.pick(t.instances).id;
    const type = rng.pick(['HEALTH_ISSUE', 'INSTANCE_PAUSED', 'PAUSED', 'RESUMED', 'WINDOW_CLOSED'] as const);
    await appendLog(prisma, null, { tenantId: t.tenantId, campaignId: campaign.id, type, message: `${type.toLowerCase()} ${k}`, instanceId });
  }
  return { campaignId: campaign.id, timezone: t.timezone };
}

async function recount(campaignId: string) {
  const [funnel] = await prisma.$queryRaw<Array<Record<string, number>>>`
    SELECT count(*)::int AS targeted,
           sum(CASE WHEN sent_at IS NOT NULL THEN 1 ELSE 0 END)::int AS sent,
           sum(CASE WHEN delivered_at IS NOT NULL THEN 1 ELSE 0 END)::int AS delivered,
           sum(CASE WHEN read_at IS NOT NULL THEN 1 ELSE 0 END)::int AS read,
           sum(CASE WHEN replied_at IS NOT NULL THEN 1 ELSE 0 END)::int AS replied,
           sum(CASE WHEN clicked_at IS NOT NULL THEN 1 ELSE 0 END)::int AS clicked,
           sum(CASE WHEN converted_at IS NOT NULL THEN 1 ELSE 0 END)::int AS converted,
           sum(CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END)::int AS failed,
           sum(CASE WHEN status = 'SKIPPED' THEN 1 ELSE 0 END)::int AS skipped,
           sum(CASE WHEN status = 'UNKNOWN' THEN 1 ELSE 0 END)::int AS unknown,
           sum(CASE WHEN status IN ('PENDING', 'QUEUED', 'SENDING') THEN 1 ELSE 0 END)::int AS remaining
    FROM recipient WHERE campaign_id = ${campaignId}::uuid`;
  return funnel as Record<string, number>;
}

function figures(rows: Array<Record<string, unknown>>) {
  return rows.map((r) => {
    const f = {
      targeted: Number(r.targeted),
      sent: Number(r.sent),
      delivered: Number(r.delivered),
      read: Number(r.read),
      replied: Number(r.replied),
      clicked: Number(r.clicked),
      converted: Number(r.converted),
      failed: Number(r.failed),
    };
    return {
      ...f,
      deliveryRate: rate(f.delivered, f.sent),
      readRate: rate(f.read, f.delivered),
      replyRate: rate(f.replied, f.delivered),
      clickRate: rate(f.clicked, f.delivered),
      conversionRate: rate(f.converted, f.delivered),
    };
  });
}

/** Sums of events per bucket, one plain query per event column. */
async function seriesRecount(campaignId: string, tz: string, unit: 'minute' | 'hour' | 'day') {
  const columns = { sent: 'sent_at', delivered: 'delivered_at', read: 'read_at', failed: 'failed_at', replied: 'replied_at', clicked: 'clicked_at', converted: 'converted_at' } as const;
  const buckets = new Map<string, Record<keyof typeof columns, number>>();
  for (const [name, column] of Object.entries(columns) as Array<[keyof typeof columns, string]>) {
    const rows = await prisma.$queryRawUnsafe<Array<{ b: Date; n: number }>>(
      `SELECT (date_trunc('${unit}', ${column} AT TIME ZONE $2) AT TIME ZONE $2) AS b, count(*)::int AS n
       FROM recipient WHERE campaign_id = $1::uuid AND ${column} IS NOT NULL GROUP BY 1`,
      campaignId,
      tz,
    );
    for (const r of rows) {
      const key = r.b.toISOString();
      const entry = buckets.get(key) ?? { sent: 0, delivered: 0, read: 0, failed: 0, replied: 0, clicked: 0, converted: 0 };
      entry[name] = r.n;
      buckets.set(key, entry);
    }
  }
  return [...buckets.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([start, counts]) => ({ start, ...counts }));
}

const byKey = <T>(xs: T[], key: (x: T) => string) => [...xs].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));

describe('analytics equal a plain SQL recount, for random campaigns with random histories', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ workers: false });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('campaign analytics: funnel, rates, revenue, instances, variations, variants, hours, weekdays, series, errors, durations, timeline', async () => {
    // A zone with a half-hour offset: local hours and days do not line up with UTC ones.
    const t = await tenantWithInstances('Property', 3, 'Asia/Kolkata');
    const seeds = [101, 202, 303];
    const built: Built[] = [];
    for (const seed of seeds) built.push(await buildCampaign(stack, prng(seed), t, new Date(Date.now() - (6 * 24 + seed / 10) * HOUR)));

    for (const { campaignId, timezone } of built) {
      const id = globalId('Campaign', campaignId);
      const data = await gqlOk(stack.url, t.key, Analytics, { id });
      const a = data.campaign?.analytics;
      if (!a) throw new Error('no analytics');
      const label = `campaign ${campaignId}`;
      expect(a.timezone).toBe(timezone);

      const funnel = await recount(campaignId);
      expect(a.funnel, label).toEqual(funnel);
      expect(funnel.sent, label).toBeGreaterThan(20);
      expect(Number(funnel.delivered) + Number(funnel.read), label).toBeGreaterThan(0);
      expect(a.rates).toEqual({
        deliveryRate: rate(funnel.delivered as number, funnel.sent as number),
        readRate: rate(funnel.read as number, funnel.delivered as number),
        replyRate: rate(funnel.replied as number, funnel.delivered as number),
        clickRate: rate(funnel.clicked as number, funnel.delivered as number),
        conversionRate: rate(funnel.converted as number, funnel.delivered as number),
      });

      const [money] = await prisma.$queryRaw<Array<{ cost: number | null; value: number }>>`
        SELECT (SELECT cost::float8 FROM campaign WHERE id = ${campaignId}::uuid) AS cost,
               (SELECT COALESCE(sum(value), 0)::float8 FROM conversion WHERE campaign_id = ${campaignId}::uuid) AS value`;
      expect(a.revenue.conversionValue).toBeCloseTo(money?.value as number, 2);
      expect(a.revenue.cost).toBe(money?.cost ?? null);
      expect(a.revenue.roi).toBe(money?.cost ? round4(((money.value as number) - money.cost) / money.cost) : null);

      const perInstance = await prisma.$queryRaw<Array<Record<string, unknown>>>`
        SELECT ci.instance_id,
               (SELECT count(*) FROM recipient r WHERE r.campaign_id = ci.campaign_id AND r.instance_id = ci.instance_id)::int AS targeted,
               (SELECT count(*) FROM recipient r WHERE r.campaign_id = ci.campaign_id AND r.instance_id = ci.instance_id AND r.sent_at IS NOT NULL)::int AS sent,
               (SELECT count(*) FROM recipient r WHERE r.campaign_id = ci.campaign_id AND r.instance_id = ci.instance_id AND r.delivered_at IS NOT NULL)::int AS delivered,
               (SELECT count(*) FROM recipient r WHERE r.campaign_id = ci.campaign_id AND r.instance_id = ci.instance_id AND r.read_at IS NOT NULL)::int AS read,
               (SELECT count(*) FROM recipient r WHERE r.campaign_id = ci.campaign_id AND r.instance_id = ci.instance_id AND r.replied_at IS NOT NULL)::int AS replied,
               (SELECT count(*) FROM recipient r WHERE r.campaign_id = ci.campaign_id AND r.instance_id = ci.instance_id AND r.clicked_at IS NOT NULL)::int AS clicked,
               (SELECT count(*) FROM recipient r WHERE r.campaign_id = ci.campaign_id AND r.instance_id = ci.instance_id AND r.converted_at IS NOT NULL)::int AS converted,
               (SELECT count(*) FROM recipient r WHERE r.campaign_id = ci.campaign_id AND r.instance_id = ci.instance_id AND r.status = 'FAILED')::int AS failed,
               (SELECT avg(send_duration_ms)::float8 FROM recipient r WHERE r.campaign_id = ci.campaign_id AND r.instance_id = ci.instance_id) AS avg_ms,
               (SELECT count(*) FROM campaign_log l WHERE l.campaign_id = ci.campaign_id AND l.instance_id = ci.instance_id AND l.type = 'HEALTH_ISSUE')::int AS health_issues,
               (SELECT count(*) FROM campaign_log l WHERE l.campaign_id = ci.campaign_id AND l.instance_id = ci.instance_id AND l.type = 'INSTANCE_PAUSED')::int AS pauses
        FROM campaign_instance ci WHERE ci.campaign_id = ${campaignId}::uuid`;
      const expectedInstances = perInstance.map((r, i) => ({
        instance: r.instance_id,
        figures: figures([r])[0],
        averageSendMs: r.avg_ms === null ? null : Math.round((r.avg_ms as number) * 10) / 10,
        healthIssues: r.health_issues,
        pauses: r.pauses,
        i,
      }));
      expect(
        byKey(
          a.instances.map((x) => ({ ...x, instance: uuidOf(x.instance?.id as string) })),
          (x) => x.instance,
        ),
      ).toEqual(byKey(expectedInstances.map(({ i: _i, ...x }) => x), (x) => String(x.instance)));

      const perMessage = await prisma.$queryRaw<Array<Record<string, unknown>>>`
        SELECT m.id, count(r.id)::int AS targeted, count(r.sent_at)::int AS sent, count(r.delivered_at)::int AS delivered,
               count(r.read_at)::int AS read, count(r.replied_at)::int AS replied, count(r.clicked_at)::int AS clicked,
               count(r.converted_at)::int AS converted, count(r.id) FILTER (WHERE r.status = 'FAILED')::int AS failed
        FROM campaign_message m LEFT JOIN recipient r ON r.message_id = m.id
        WHERE m.campaign_id = ${campaignId}::uuid GROUP BY m.id, m.sort_order ORDER BY m.sort_order`;
      expect(a.variations.map((v) => ({ id: v.message?.id, figures: v.figures }))).toEqual(
        perMessage.map((r) => ({ id: r.id, figures: figures([r])[0] })),
      );

      const [settings] = await prisma.$queryRaw<Array<{ ab_enabled: boolean; ab_metric: string }>>`
        SELECT ab_enabled, ab_metric::text FROM campaign WHERE id = ${campaignId}::uuid`;
      const successColumn = { READ_RATE: 'read_at', REPLY_RATE: 'replied_at', CLICK_RATE: 'clicked_at', CONVERSION_RATE: 'converted_at' }[settings?.ab_metric as string];
      const perVariant = await prisma.$queryRawUnsafe<Array<Record<string, unknown>>>(
        `SELECT ab_variant AS variant, count(*)::int AS targeted, count(sent_at)::int AS sent, count(delivered_at)::int AS delivered,
                count(read_at)::int AS read, count(replied_at)::int AS replied, count(clicked_at)::int AS clicked,
                count(converted_at)::int AS converted, count(*) FILTER (WHERE status = 'FAILED')::int AS failed,
                count(*) FILTER (WHERE delivered_at IS NOT NULL)::int AS sample,
                count(*) FILTER (WHERE delivered_at IS NOT NULL AND ${successColumn} IS NOT NULL)::int AS successes
         FROM recipient WHERE campaign_id = $1::uuid AND ab_variant IS NOT NULL GROUP BY ab_variant ORDER BY ab_variant`,
        campaignId,
      );
      expect(a.abVariants.map((v) => ({ variant: v.variant, sample: v.sample, successes: v.successes, figures: v.figures }))).toEqual(
        perVariant.map((r) => {
          const { deliveryRate: _d, readRate: _r, replyRate: _p, clickRate: _c, conversionRate: _v, ...f } = figures([r])[0] as ReturnType<typeof figures>[number];
          return { variant: r.variant, sample: r.sample, successes: r.successes, figures: f };
        }),
      );
      for (const v of a.abVariants) expect(v.metricRate).toBe(v.sample ? round4(v.successes / v.sample) : 0);
      if (settings?.ab_enabled) expect(a.abVariants.length).toBeGreaterThanOrEqual(2);

      const hours = await prisma.$queryRaw<Array<{ slot: number; delivered: number; read: number }>>`
        SELECT h AS slot,
               (SELECT count(*) FROM recipient WHERE campaign_id = ${campaignId}::uuid AND extract(hour FROM delivered_at AT TIME ZONE ${timezone}) = h)::int AS delivered,
               (SELECT count(*) FROM recipient WHERE campaign_id = ${campaignId}::uuid AND extract(hour FROM read_at AT TIME ZONE ${timezone}) = h)::int AS read
        FROM generate_series(0, 23) h ORDER BY h`;
      expect(a.byHourOfDay).toEqual(hours.map((h) => ({ hour: h.slot, delivered: h.delivered, read: h.read })));
      const days = await prisma.$queryRaw<Array<{ slot: number; delivered: number; read: number }>>`
        SELECT d AS slot,
               (SELECT count(*) FROM recipient WHERE campaign_id = ${campaignId}::uuid AND extract(isodow FROM delivered_at AT TIME ZONE ${timezone}) = d)::int AS delivered,
               (SELECT count(*) FROM recipient WHERE campaign_id = ${campaignId}::uuid AND extract(isodow FROM read_at AT TIME ZONE ${timezone}) = d)::int AS read
        FROM generate_series(1, 7) d ORDER BY d`;
      const names = ['MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY', 'SUNDAY'];
      expect(a.byWeekday).toEqual(days.map((d) => ({ isoWeekday: d.slot, weekday: names[d.slot - 1], delivered: d.delivered, read: d.read })));
      expect(a.byHourOfDay.reduce((s, h) => s + h.delivered, 0)).toBe(funnel.delivered);

      const errors = await prisma.$queryRaw<Array<{ code: string; message: string; count: number }>>`
        SELECT COALESCE(error_code, 'UNSPECIFIED') AS code, COALESCE(error, '') AS message, count(*)::int AS count
        FROM recipient WHERE campaign_id = ${campaignId}::uuid AND status IN ('FAILED', 'UNKNOWN')
        GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 5`;
      expect(a.topErrors).toEqual(errors);
      expect(errors.length).toBeGreaterThan(0);

      const [durations] = await prisma.$queryRaw<Array<Record<string, number | null>>>`
        SELECT count(send_duration_ms)::int AS count, avg(send_duration_ms)::float8 AS "averageMs",
               percentile_cont(0.5) WITHIN GROUP (ORDER BY send_duration_ms)::float8 AS "medianMs",
               percentile_cont(0.95) WITHIN GROUP (ORDER BY send_duration_ms)::float8 AS "p95Ms", max(send_duration_ms)::float8 AS "maxMs"
        FROM recipient WHERE campaign_id = ${campaignId}::uuid AND send_duration_ms IS NOT NULL`;
      expect(a.sendDuration.count).toBe(durations?.count);
      for (const k of ['averageMs', 'medianMs', 'p95Ms', 'maxMs'] as const) expect(a.sendDuration[k]).toBeCloseTo(durations?.[k] as number, 6);

      const milestones = await prisma.$queryRaw<Array<{ type: string; message: string }>>`
        SELECT type::text, message FROM campaign_log
        WHERE campaign_id = ${campaignId}::uuid AND type IN ('CREATED', 'UPDATED', 'SCHEDULED', 'STARTED', 'PAUSED', 'RESUMED', 'COMPLETED', 'CANCELLED',
          'INSTANCE_PAUSED', 'INSTANCE_RESUMED', 'ROTATION_CHANGED', 'HEALTH_ISSUE', 'WINDOW_CLOSED', 'WINDOW_OPENED', 'AB_WINNER')
        ORDER BY created_at, id`;
      expect(a.timeline).toEqual(milestones);

      const series = await gqlOk(stack.url, t.key, Series, { id });
      const s = series.campaign?.analytics;
      expect(s?.hourly).toEqual(await seriesRecount(campaignId, timezone, 'hour'));
      expect(s?.daily).toEqual(await seriesRecount(campaignId, timezone, 'day'));
      expect(s?.minutes).toEqual(await seriesRecount(campaignId, timezone, 'minute'));
      expect(s?.daily.reduce((sum, p) => sum + p.sent, 0)).toBe(funnel.sent);
    }

    // The counters that drive the funnel really moved through the product's paths.
    const [activity] = await prisma.$queryRaw<Array<{ clicks: number; replies: number; conversions: number; uncounted: number }>>`
      SELECT (SELECT count(*) FROM link_click WHERE tenant_id = ${t.tenantId}::uuid)::int AS clicks,
             (SELECT count(*) FROM reply WHERE tenant_id = ${t.tenantId}::uuid AND campaign_id IS NOT NULL)::int AS replies,
             (SELECT count(*) FROM conversion WHERE tenant_id = ${t.tenantId}::uuid)::int AS conversions,
             (SELECT count(*) FROM recipient_link WHERE tenant_id = ${t.tenantId}::uuid AND click_count = 0 AND first_clicked_at IS NOT NULL)::int AS uncounted`;
    expect(activity).toMatchObject({ uncounted: 0 });
    expect(activity?.clicks).toBeGreaterThan(0);
    expect(activity?.replies).toBeGreaterThan(0);
    expect(activity?.conversions).toBeGreaterThan(0);
  });

  it('tenant analytics: totals, trend, best and worst instances and opt-outs of the period, nothing from outside it', async () => {
    const t = await tenantWithInstances('Tenant figures', 4, 'America/Sao_Paulo');
    const rng = prng(404);
    const inside = [];
    for (let k = 0; k < 3; k++) inside.push(await buildCampaign(stack, rng, t, new Date(Date.now() - (5 + 2 * k) * 24 * HOUR - rng.int(0, 600) * 60_000)));
    await buildCampaign(stack, rng, t, new Date(Date.now() - 90 * 24 * HOUR)); // before the period
    const other = await tenantWithInstances('Someone else', 1);
    await buildCampaign(stack, prng(505), other, new Date(Date.now() - 6 * 24 * HOUR));

    const from = new Date(Date.now() - 30 * 24 * HOUR);
    const to = new Date(Date.now() + HOUR);
    const data = await gqlOk(stack.url, t.key, Tenant, { from: from.toISOString(), to: to.toISOString() });
    const x = data.tenantAnalytics;

    const [totals] = await prisma.$queryRaw<Array<Record<string, number>>>`
      SELECT count(DISTINCT c.id)::int AS campaigns, count(r.id)::int AS targeted, count(r.sent_at)::int AS sent, count(r.delivered_at)::int AS delivered,
             count(r.read_at)::int AS read, count(r.replied_at)::int AS replied, count(r.clicked_at)::int AS clicked, count(r.converted_at)::int AS converted,
             count(r.id) FILTER (WHERE r.status = 'FAILED')::int AS failed, count(r.id) FILTER (WHERE r.status = 'SKIPPED')::int AS skipped,
             count(r.id) FILTER (WHERE r.status = 'UNKNOWN')::int AS unknown
      FROM campaign c LEFT JOIN recipient r ON r.campaign_id = c.id
      WHERE c.tenant_id = ${t.tenantId}::uuid AND c.started_at >= ${from} AND c.started_at < ${to}`;
    const [money] = await prisma.$queryRaw<Array<{ cost: number | null; value: number; costed: number }>>`
      SELECT (SELECT sum(cost)::float8 FROM campaign c WHERE c.tenant_id = ${t.tenantId}::uuid AND c.started_at >= ${from} AND c.started_at < ${to}) AS cost,
             (SELECT COALESCE(sum(v.value), 0)::float8 FROM conversion v JOIN campaign c ON c.id = v.campaign_id
              WHERE c.tenant_id = ${t.tenantId}::uuid AND c.started_at >= ${from} AND c.started_at < ${to}) AS value,
             (SELECT COALESCE(sum(v.value), 0)::float8 FROM conversion v JOIN campaign c ON c.id = v.campaign_id
              WHERE c.tenant_id = ${t.tenantId}::uuid AND c.cost IS NOT NULL AND c.started_at >= ${from} AND c.started_at < ${to}) AS costed`;
    expect(totals?.campaigns).toBe(3);
    const { rates, cost, conversionValue, roi, ...counts } = x.totals;
    expect(counts).toEqual(totals);
    expect(rates).toEqual({ deliveryRate: rate(totals?.delivered as number, totals?.sent as number), readRate: rate(totals?.read as number, totals?.delivered as number) });
    expect(cost ?? null).toBe(money?.cost ?? null);
    expect(conversionValue).toBeCloseTo(money?.value as number, 2);
    expect(roi).toBe(money?.cost ? round4(((money.costed as number) - money.cost) / money.cost) : null);

    const trend = await prisma.$queryRaw<Array<{ start: Date; campaigns: number; targeted: number; sent: number; delivered: number; read: number; replied: number; failed: number }>>`
      SELECT date_trunc('day', c.started_at AT TIME ZONE ${t.timezone}) AT TIME ZONE ${t.timezone} AS start,
             count(DISTINCT c.id)::int AS campaigns, count(r.id)::int AS targeted, count(r.sent_at)::int AS sent, count(r.delivered_at)::int AS delivered,
             count(r.read_at)::int AS read, count(r.replied_at)::int AS replied, count(r.id) FILTER (WHERE r.status = 'FAILED')::int AS failed
      FROM campaign c LEFT JOIN recipient r ON r.campaign_id = c.id
      WHERE c.tenant_id = ${t.tenantId}::uuid AND c.started_at >= ${from} AND c.started_at < ${to}
      GROUP BY 1 ORDER BY 1`;
    expect(x.trend).toEqual(trend.map(({ start, ...totals }) => ({ start: start.toISOString(), totals })));

    const ranking = await prisma.$queryRaw<Array<{ instance_id: string; sent: number; delivered: number; read: number; failed: number }>>`
      SELECT r.instance_id, count(r.sent_at)::int AS sent, count(r.delivered_at)::int AS delivered, count(r.read_at)::int AS read,
             count(*) FILTER (WHERE r.status = 'FAILED')::int AS failed
      FROM recipient r JOIN campaign c ON c.id = r.campaign_id
      WHERE c.tenant_id = ${t.tenantId}::uuid AND c.started_at >= ${from} AND c.started_at < ${to} AND r.instance_id IS NOT NULL
      GROUP BY r.instance_id`;
    const score = (r: (typeof ranking)[number]) => [r.sent ? r.delivered / r.sent : -1, r.delivered ? r.read / r.delivered : -1, r.sent] as const;
    const ordered = ranking
      .filter((r) => r.sent > 0 || r.failed > 0)
      .sort((p, q) => {
        const [a1, a2, a3] = score(p);
        const [b1, b2, b3] = score(q);
        return b1 - a1 || b2 - a2 || b3 - a3 || (p.instance_id < q.instance_id ? -1 : 1);
      });
    const shape = (r: (typeof ranking)[number]) => ({ instance: r.instance_id, sent: r.sent, delivered: r.delivered, read: r.read, failed: r.failed, deliveryRate: rate(r.delivered, r.sent) });
    const got = (rs: typeof x.bestInstances) => rs.map((r) => ({ ...r, instance: uuidOf(r.instance?.id as string) }));
    expect(got(x.bestInstances)).toEqual(ordered.slice(0, 2).map(shape));
    expect(got(x.worstInstances)).toEqual(ordered.slice(-2).reverse().map(shape));

    const [opt] = await prisma.$queryRaw<Array<{ replies: number; contacts: number }>>`
      SELECT (SELECT count(DISTINCT rp.contact_id) FROM reply rp JOIN campaign c ON c.id = rp.campaign_id
              WHERE rp.tenant_id = ${t.tenantId}::uuid AND rp.is_opt_out AND c.started_at >= ${from} AND c.started_at < ${to})::int AS replies,
             (SELECT count(*) FROM contact WHERE tenant_id = ${t.tenantId}::uuid AND opted_out AND opted_out_at >= ${from} AND opted_out_at < ${to})::int AS contacts`;
    expect(x.optOuts).toBe(opt?.replies);
    expect(x.contactsOptedOut).toBe(opt?.contacts);
    expect(x.optOutRate).toBe(rate(opt?.replies as number, totals?.delivered as number));
    expect(x.timezone).toBe('America/Sao_Paulo');
  });
});
