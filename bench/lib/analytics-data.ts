// Generated campaigns for the analytics benchmark, written straight into PostgreSQL (INSERT … SELECT
// generate_series), shaped like what the product leaves behind: three senders with different health,
// an A/B test (variants A, B and C on the first share of the audience, the winner B released to the
// hold-out), sends spread over several days inside an 08:00–20:00 local window, receipts, replies,
// clicks and conversions that follow each variant's propensity, failures with the product's error
// codes, milestone log entries and, optionally, one log entry per message event as the product
// writes them. The campaign's counters are then set to a recount, as the product keeps them.
import type pg from 'pg';

export interface GeneratedCampaign {
  campaignId: string;
  recipients: number;
  instanceIds: string[];
  messageIds: string[];
}

export interface GenerateOptions {
  /** Recipients of the measured campaign. */
  recipients: number;
  /** Recipients of an earlier campaign of the same tenant (other rows in the same table and indexes). */
  otherRecipients: number;
  /** One campaign_log row per message event (sent, delivered, read, failed, unknown), as the product writes. */
  messageLogs: boolean;
  timezone: string;
  say?: (line: string) => void;
}

const VARIANTS = ['A', 'B', 'C'];
/** Index into VARIANTS of the variant that won and was sent to the hold-out. */
const WINNER = 1;
const TEST_SHARE = 0.2;

export async function generateAnalyticsData(db: pg.Client, tenantId: string, opts: GenerateOptions): Promise<{ main: GeneratedCampaign; other: GeneratedCampaign | null }> {
  const say = opts.say ?? (() => undefined);
  const t0 = performance.now();
  const [server] = (
    await db.query<{ id: string }>(
      `INSERT INTO evolution_server (tenant_id, name, base_url, api_key_encrypted, updated_at)
       VALUES ($1, 'evo', 'http://evolution.invalid', 'v1.x.x.x', now()) RETURNING id`,
      [tenantId],
    )
  ).rows;
  const instances = (
    await db.query<{ id: string; name: string }>(
      `INSERT INTO whatsapp_instance (tenant_id, server_id, name, phone, webhook_secret, connection_state, health_score, updated_at)
       SELECT $1, $2, 'sender-' || g, '+551130000' || lpad(g::text, 3, '0'), 'secret-' || g || '-' || md5(random()::text), 'OPEN',
              (ARRAY[96, 81, 43, 100])[g], now()
       FROM generate_series(1, 4) g RETURNING id, name`,
      [tenantId, server?.id],
    )
  ).rows
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((r) => r.id);
  const contacts = Math.max(opts.recipients, opts.otherRecipients);
  await db.query(
    `INSERT INTO contact (tenant_id, phone, name, email, tags, created_at, updated_at)
     SELECT $1, '+55119' || lpad(g::text, 8, '0'), 'Contato ' || g, 'c' || g || '@example.com', ARRAY['clientes'], now() - interval '30 days', now()
     FROM generate_series(1, $2::int) g`,
    [tenantId, contacts],
  );
  say(`${contacts.toLocaleString('en-US')} contacts in ${secondsSince(t0)}`);

  const other =
    opts.otherRecipients > 0
      ? await generateCampaign(db, tenantId, { ...opts, name: 'Earlier campaign', recipients: opts.otherRecipients, daysAgo: 12, days: 2, instanceIds: [instances[0], instances[3]] as string[] })
      : null;
  const main = await generateCampaign(db, tenantId, { ...opts, name: 'Black Friday', recipients: opts.recipients, daysAgo: 6, days: 5, instanceIds: instances.slice(0, 3) });
  const t1 = performance.now();
  await db.query('VACUUM ANALYZE recipient');
  await db.query('VACUUM ANALYZE campaign_log');
  await db.query('VACUUM ANALYZE contact');
  await db.query('ANALYZE');
  say(`VACUUM ANALYZE in ${secondsSince(t1)}`);
  return { main, other };
}

interface CampaignSpec extends GenerateOptions {
  name: string;
  daysAgo: number;
  days: number;
  instanceIds: string[];
}

async function generateCampaign(db: pg.Client, tenantId: string, spec: CampaignSpec): Promise<GeneratedCampaign> {
  const say = spec.say ?? (() => undefined);
  const tz = spec.timezone;
  const t0 = performance.now();
  // Local midnight `daysAgo` days back: the first window opens at 08:00 that day.
  const [campaign] = (
    await db.query<{ id: string; start: Date }>(
      `INSERT INTO campaign (tenant_id, name, status, rotation_mode, window_start_minute, window_end_minute, ab_enabled, ab_test_share, ab_metric,
                             ab_min_sample, cost, started_at, completed_at, updated_at)
       VALUES ($1, $2, 'COMPLETED', 'INTELLIGENT', 480, 1200, true, $3, 'READ_RATE', 100, $4,
               (date_trunc('day', now() AT TIME ZONE $5) - make_interval(days => $6::int) + interval '8 hours') AT TIME ZONE $5,
               (date_trunc('day', now() AT TIME ZONE $5) - make_interval(days => $6::int - $7::int + 1) + interval '20 hours') AT TIME ZONE $5, now())
       RETURNING id, started_at AS start`,
      [tenantId, spec.name, TEST_SHARE, (spec.recipients * 0.0015).toFixed(2), tz, spec.daysAgo, spec.days],
    )
  ).rows;
  if (!campaign) throw new Error('no campaign');
  const campaignId = campaign.id;
  await db.query(`INSERT INTO campaign_instance (campaign_id, instance_id, tenant_id) SELECT $1, unnest($2::uuid[]), $3`, [campaignId, spec.instanceIds, tenantId]);
  const messageIds = (
    await db.query<{ id: string; sort_order: number }>(
      `INSERT INTO campaign_message (tenant_id, campaign_id, sort_order, text, ab_variant, ab_weight, usage_count, updated_at)
       SELECT $1, $2, i - 1, v || ': Olá {{primeiro_nome}}, a Black Friday chegou! Até 50% off em toda a loja: https://loja.example.com/bf', v, 100.0 / 3, 0, now()
       FROM unnest($3::text[]) WITH ORDINALITY AS x(v, i) RETURNING id, sort_order`,
      [tenantId, campaignId, VARIANTS],
    )
  ).rows
    .sort((a, b) => a.sort_order - b.sort_order)
    .map((r) => r.id);

  // u1 decides the outcome, u2 the kind of failure or whether it stopped at SENT, u3 the sender,
  // u4 the read, u5 the reply and the conversion's delay, u6 the click and conversion, u7 the send
  // duration, u8 the delivery delay, u9 the read delay, u10 the conversion value.
  // Variant read propensities differ (B wins); the hold-out (after the test share) all got B.
  await db.query(
    `INSERT INTO recipient (tenant_id, campaign_id, contact_id, seq, phone, timezone, status, instance_id, message_id, ab_variant, rendered_text,
       provider_message_id, attempts, error_code, error, send_duration_ms, queued_at, sending_at, sent_at, delivered_at, read_at, failed_at,
       skipped_at, replied_at, clicked_at, converted_at, conversion_value, created_at, updated_at)
     SELECT $1, $2, x.contact_id, x.g, x.phone, $9,
       x.status::"RecipientStatus",
       CASE WHEN x.status <> 'SKIPPED' THEN ($3::uuid[])[1 + CASE WHEN x.u3 < 0.45 THEN 0 WHEN x.u3 < 0.8 THEN 1 ELSE 2 END % cardinality($3::uuid[])] END,
       ($4::uuid[])[x.vi + 1],
       CASE WHEN x.in_test THEN ($5::text[])[x.vi + 1] END,
       CASE WHEN x.attempted THEN ($5::text[])[x.vi + 1] || ': Olá ' || x.name || ', a Black Friday chegou! Até 50% off em toda a loja: https://wa.example.com/l/' || substr(md5(x.g::text), 1, 12) END,
       CASE WHEN x.sent THEN '3EB0' || upper(md5($2::uuid::text || x.g::text)) END,
       CASE WHEN x.status = 'SKIPPED' THEN 0 WHEN x.error_code = 'UNAVAILABLE' THEN 3 WHEN x.u7 > 0.97 THEN 2 ELSE 1 END,
       x.error_code,
       CASE x.error_code
         WHEN 'NOT_ON_WHATSAPP' THEN 'the number is not on WhatsApp'
         WHEN 'REJECTED' THEN 'Evolution refused the message (400): Bad Request'
         WHEN 'UNAVAILABLE' THEN 'gave up after 3 attempts: connect ECONNREFUSED'
         WHEN 'OUTCOME_UNKNOWN' THEN 'no answer from Evolution within 30000 ms'
       END,
       CASE WHEN x.sent THEN x.duration END,
       x.queued_at,
       CASE WHEN x.attempted THEN x.sent_at - x.duration * interval '1 millisecond' END,
       CASE WHEN x.sent THEN x.sent_at END,
       CASE WHEN x.delivered THEN x.delivered_at END,
       CASE WHEN x.read THEN x.read_at END,
       CASE WHEN x.status = 'FAILED' THEN CASE WHEN x.sent THEN x.sent_at + interval '4 seconds' ELSE x.sent_at END END,
       CASE WHEN x.status = 'SKIPPED' THEN x.sent_at END,
       CASE WHEN x.replied THEN x.read_at + (1 + x.u5 * 40) * interval '1 minute' END,
       CASE WHEN x.clicked THEN x.read_at + (5 + x.u6 * 6000) * interval '1 second' END,
       CASE WHEN x.converted THEN x.read_at + (10 + x.u6 * 6000) * interval '1 second' + x.u5 * interval '6 hours' END,
       CASE WHEN x.converted THEN round((20 + x.u10 * 480)::numeric, 2) ELSE 0 END,
       x.queued_at, now()
     FROM (
       SELECT y.*,
              y.attempted AND NOT y.u1 BETWEEN 0.02 AND 0.05 AS sent,
              y.attempted AND NOT y.u1 BETWEEN 0.02 AND 0.05 AND y.u2 >= 0.04 AS delivered,
              y.attempted AND NOT y.u1 BETWEEN 0.02 AND 0.05 AND y.u2 >= 0.04 AND y.u4 < (ARRAY[0.55, 0.66, 0.5])[y.vi + 1] AS read,
              y.attempted AND NOT y.u1 BETWEEN 0.02 AND 0.05 AND y.u2 >= 0.04 AND y.u4 < (ARRAY[0.55, 0.66, 0.5])[y.vi + 1] AND y.u5 < (ARRAY[0.08, 0.1, 0.07])[y.vi + 1] AS replied,
              y.attempted AND NOT y.u1 BETWEEN 0.02 AND 0.05 AND y.u2 >= 0.04 AND y.u4 < (ARRAY[0.55, 0.66, 0.5])[y.vi + 1] AND y.u6 < 0.04 AS clicked,
              y.attempted AND NOT y.u1 BETWEEN 0.02 AND 0.05 AND y.u2 >= 0.04 AND y.u4 < (ARRAY[0.55, 0.66, 0.5])[y.vi + 1] AND y.u6 < 0.008 AS converted,
              CASE
                WHEN NOT y.attempted THEN 'SKIPPED'
                WHEN y.u1 < 0.045 THEN 'FAILED'
                WHEN y.u1 <= 0.05 THEN 'UNKNOWN'
                WHEN y.u2 < 0.005 THEN 'FAILED'
                WHEN y.u2 < 0.04 THEN 'SENT'
                WHEN y.u4 < (ARRAY[0.55, 0.66, 0.5])[y.vi + 1] THEN 'READ'
                ELSE 'DELIVERED'
              END AS status,
              CASE
                WHEN NOT y.attempted THEN NULL
                WHEN y.u1 < 0.045 THEN CASE WHEN y.u2 < 0.5 THEN 'NOT_ON_WHATSAPP' WHEN y.u2 < 0.85 THEN 'REJECTED' ELSE 'UNAVAILABLE' END
                WHEN y.u1 <= 0.05 THEN 'OUTCOME_UNKNOWN'
              END AS error_code,
              y.sent_at + (1 + y.u8 * y.u8 * 300) * interval '1 second' AS delivered_at,
              y.sent_at + (1 + y.u8 * y.u8 * 300) * interval '1 second' + (-ln(1 - y.u9) * 90) * interval '1 minute' AS read_at
       FROM (
         SELECT z.*,
                z.u1 >= 0.02 AS attempted,
                CASE WHEN z.g <= $6::int THEN z.g % 3 ELSE ${WINNER} END AS vi,
                z.g <= $6::int AS in_test,
                120 + floor(-ln(1 - z.u7) * 350)::int AS duration,
                $7::timestamptz AS queued_at,
                -- position in the audience → day and time inside that day's 08:00–20:00 window (local)
                ((date_trunc('day', $7::timestamptz AT TIME ZONE $9) + floor((z.g - 1) * $8::float8 / $10::int) * interval '1 day' + interval '8 hours'
                   + (((z.g - 1) * $8::float8 / $10::int) - floor((z.g - 1) * $8::float8 / $10::int)) * interval '12 hours') AT TIME ZONE $9)
                  + z.u8 * interval '20 seconds' AS sent_at
         FROM (
           SELECT c.id AS contact_id, c.phone, c.name, c.g,
                  random() AS u1, random() AS u2, random() AS u3, random() AS u4, random() AS u5,
                  random() AS u6, random() AS u7, random() AS u8, random() AS u9, random() AS u10
           FROM (SELECT id, phone, name, row_number() OVER (ORDER BY phone)::int AS g FROM contact WHERE tenant_id = $1 ORDER BY phone LIMIT $10::int) c
           OFFSET 0
         ) z
       ) y
     ) x`,
    [tenantId, campaignId, spec.instanceIds, messageIds, VARIANTS, Math.floor(spec.recipients * TEST_SHARE), campaign.start, spec.days, tz, spec.recipients],
  );
  say(`${spec.name}: ${spec.recipients.toLocaleString('en-US')} recipients in ${secondsSince(t0)}`);

  const t1 = performance.now();
  if (spec.messageLogs) {
    // The entries the product writes per message event (send, receipts, failures), with its messages.
    await db.query(
      `INSERT INTO campaign_log (tenant_id, campaign_id, type, severity, message, instance_id, contact_id, recipient_id, duration_ms, response, http_status, actor, created_at)
       SELECT r.tenant_id, r.campaign_id, e.type::"LogType", e.severity::"LogSeverity", e.message, r.instance_id, r.contact_id, r.id, e.duration, e.response, e.http, e.actor, e.at
       FROM recipient r CROSS JOIN LATERAL (VALUES
         ('MESSAGE_SENT', 'INFO', 'message sent to ' || r.phone, r.sent_at, r.send_duration_ms,
          jsonb_build_object('keyId', r.provider_message_id, 'status', 'PENDING', 'messageType', 'conversation'), 201, 'worker'),
         ('MESSAGE_DELIVERED', 'INFO', 'message delivered', r.delivered_at, NULL, NULL, NULL, 'webhook'),
         ('MESSAGE_READ', 'INFO', 'message read', r.read_at, NULL, NULL, NULL, 'webhook'),
         ('MESSAGE_FAILED', 'ERROR', COALESCE(r.error, 'WhatsApp reported the message as failed (ERROR receipt)'), r.failed_at, NULL, NULL, NULL, 'worker'),
         ('OUTCOME_UNKNOWN', 'ERROR', 'the send may or may not have reached WhatsApp (' || r.error || '); it will not be retried automatically',
          CASE WHEN r.status = 'UNKNOWN' THEN r.sending_at END, NULL, NULL, NULL, 'worker')
       ) AS e(type, severity, message, at, duration, response, http, actor)
       WHERE r.campaign_id = $1 AND e.at IS NOT NULL`,
      [campaignId],
    );
  }
  await db.query(
    `UPDATE campaign c SET targeted_count = r.targeted, sent_count = r.sent, delivered_count = r.delivered, read_count = r.read,
       replied_count = r.replied, clicked_count = r.clicked, converted_count = r.converted, failed_count = r.failed,
       skipped_count = r.skipped, unknown_count = r.unknown, remaining_count = r.remaining, send_duration_ms_total = r.duration,
       conversion_value = r.value, version = r.targeted, ab_winner_message_id = $2, ab_decided_at = r.decided_at
     FROM (SELECT count(*)::int AS targeted, count(sent_at)::int AS sent, count(delivered_at)::int AS delivered, count(read_at)::int AS read,
                  count(replied_at)::int AS replied, count(clicked_at)::int AS clicked, count(converted_at)::int AS converted,
                  count(*) FILTER (WHERE status = 'FAILED')::int AS failed, count(*) FILTER (WHERE status = 'SKIPPED')::int AS skipped,
                  count(*) FILTER (WHERE status = 'UNKNOWN')::int AS unknown,
                  count(*) FILTER (WHERE status IN ('PENDING', 'QUEUED', 'SENDING'))::int AS remaining,
                  COALESCE(sum(send_duration_ms), 0) AS duration, sum(conversion_value) AS value,
                  max(sent_at) FILTER (WHERE ab_variant IS NOT NULL) AS decided_at
           FROM recipient WHERE campaign_id = $1) r
     WHERE c.id = $1`,
    [campaignId, messageIds[WINNER]],
  );
  await milestones(db, tenantId, campaignId, spec, messageIds);
  await db.query(
    `UPDATE campaign_message m SET usage_count = u.n FROM (SELECT message_id, count(sent_at)::int AS n FROM recipient WHERE campaign_id = $1 GROUP BY 1) u
     WHERE m.id = u.message_id`,
    [campaignId],
  );
  say(`${spec.name}: log entries and counters in ${secondsSince(t1)}`);
  return { campaignId, recipients: spec.recipients, instanceIds: spec.instanceIds, messageIds };
}

/** The campaign's course: created, started, daily windows, a pause, the third sender's health trouble, the A/B winner, completed. */
async function milestones(db: pg.Client, tenantId: string, campaignId: string, spec: CampaignSpec, messageIds: string[]) {
  const tz = spec.timezone;
  const weak = spec.instanceIds[2] ?? null;
  await db.query(
    `WITH c AS (SELECT started_at AS s, completed_at AS e, ab_decided_at AS w FROM campaign WHERE id = $2),
     d AS (SELECT g, (date_trunc('day', c.s AT TIME ZONE $3) + g * interval '1 day') AS day FROM c, generate_series(0, $4::int - 1) g)
     INSERT INTO campaign_log (tenant_id, campaign_id, type, severity, message, details, instance_id, actor, created_at)
     SELECT $1, $2, x.type::"LogType", x.severity::"LogSeverity", x.message, x.details, x.instance_id, x.actor, x.at FROM (
       SELECT 'CREATED' AS type, 'INFO' AS severity, 'campaign created' AS message, NULL::jsonb AS details, NULL::uuid AS instance_id, 'api-key:bench' AS actor, c.s - interval '2 days' AS at FROM c
       UNION ALL SELECT 'UPDATED', 'INFO', 'campaign updated: messages, abTestShare', '{"changed":["messages","abTestShare"]}', NULL, 'api-key:bench', c.s - interval '1 day' FROM c
       UNION ALL SELECT 'SCHEDULED', 'INFO', 'campaign scheduled', NULL, NULL, 'api-key:bench', c.s - interval '20 hours' FROM c
       UNION ALL SELECT 'STARTED', 'INFO', 'campaign started', jsonb_build_object('recipients', $5::int), NULL, 'scheduler', c.s FROM c
       UNION ALL SELECT 'WINDOW_CLOSED', 'INFO', 'outside the sending window; resumes at 08:00', NULL, NULL, 'worker', (d.day + interval '20 hours') AT TIME ZONE $3 FROM d WHERE d.g < $4::int - 1
       UNION ALL SELECT 'WINDOW_OPENED', 'INFO', 'sending window opened', NULL, NULL, 'worker', (d.day + interval '8 hours') AT TIME ZONE $3 FROM d WHERE d.g > 0
       UNION ALL SELECT 'PAUSED', 'INFO', 'campaign paused', NULL, NULL, 'api-key:bench', c.s + interval '3 hours' FROM c
       UNION ALL SELECT 'RESUMED', 'INFO', 'campaign resumed', NULL, NULL, 'api-key:bench', c.s + interval '3 hours 20 minutes' FROM c
       UNION ALL SELECT 'HEALTH_ISSUE', 'WARNING', 'health score 48 fell below 50', '{"score":48}', $6::uuid, 'worker', c.s + k * interval '1 day' + interval '5 hours' FROM c, generate_series(0, $4::int - 1) k WHERE $6::uuid IS NOT NULL
       UNION ALL SELECT 'INSTANCE_PAUSED', 'WARNING', 'sender paused: health below threshold', '{"reason":"health"}', $6::uuid, 'worker', c.s + k * interval '1 day' + interval '5 hours 1 minute' FROM c, generate_series(0, $4::int - 1) k WHERE $6::uuid IS NOT NULL
       UNION ALL SELECT 'INSTANCE_RESUMED', 'INFO', 'sender re-admitted after cool-down', NULL, $6::uuid, 'worker', c.s + k * interval '1 day' + interval '6 hours 1 minute' FROM c, generate_series(0, $4::int - 1) k WHERE $6::uuid IS NOT NULL
       UNION ALL SELECT 'ROTATION_CHANGED', 'INFO', 'rotation now uses 2 senders', NULL, NULL, 'worker', c.s + k * interval '1 day' + interval '5 hours 2 minutes' FROM c, generate_series(0, $4::int - 1) k
       UNION ALL SELECT 'AB_WINNER', 'INFO', 'variant B won (read rate, confidence 0.9990)', jsonb_build_object('winner', 'B', 'messageId', $7::text, 'automatic', true), NULL, 'worker', c.w FROM c
       UNION ALL SELECT 'COMPLETED', 'INFO', 'campaign completed', NULL, NULL, 'worker', c.e FROM c
     ) x`,
    [tenantId, campaignId, tz, spec.days, spec.recipients, weak, messageIds[WINNER]],
  );
}

const secondsSince = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
