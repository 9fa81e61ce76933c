// A finished campaign for the webhook benchmark: every recipient SENT with an Evolution key id, as
// dispatch leaves them, written straight into PostgreSQL (sending is measured by bench:dispatch),
// and the `messages.update` envelopes Evolution then POSTs for them (evolution-api.md §4–§5).
import { randomBytes } from 'node:crypto';
import type pg from 'pg';

export interface BenchInstance {
  id: string;
  name: string;
  webhookSecret: string;
}

export interface SentRecipient {
  keyId: string;
  /** Digits of the phone, as in a JID. */
  phone: string;
  instance: BenchInstance;
}

export interface FinishedCampaign {
  campaignId: string;
  instances: BenchInstance[];
  recipients: SentRecipient[];
}

/** `recipients` contacts, a COMPLETED campaign over `instances` instances with every recipient SENT, counters to match. */
export async function seedFinishedCampaign(db: pg.Client, tenantId: string, opts: { recipients: number; instances: number }): Promise<FinishedCampaign> {
  const server = await db.query<{ id: string }>(
    `INSERT INTO evolution_server (tenant_id, name, base_url, api_key_encrypted, updated_at)
     VALUES ($1, 'evo-bench', 'http://127.0.0.1:1', 'v1.x.x.x', now()) RETURNING id`,
    [tenantId],
  );
  const instances: BenchInstance[] = [];
  for (let n = 1; n <= opts.instances; n++) {
    const secret = randomBytes(24).toString('base64url');
    const r = await db.query<{ id: string; name: string }>(
      `INSERT INTO whatsapp_instance (tenant_id, server_id, name, phone, connection_state, webhook_secret, updated_at)
       VALUES ($1, $2, $3, $4, 'OPEN', $5, now()) RETURNING id, name`,
      [tenantId, server.rows[0]?.id, `bench-${n}`, `+5511900000${String(n).padStart(3, '0')}`, secret],
    );
    instances.push({ id: r.rows[0]?.id as string, name: r.rows[0]?.name as string, webhookSecret: secret });
  }
  const campaign = await db.query<{ id: string }>(
    `INSERT INTO campaign (tenant_id, name, status, targeted_count, sent_count, remaining_count, started_at, completed_at, updated_at)
     VALUES ($1, 'Webhook bench', 'COMPLETED', $2, $2, 0, now() - interval '1 hour', now() - interval '5 minutes', now()) RETURNING id`,
    [tenantId, opts.recipients],
  );
  const campaignId = campaign.rows[0]?.id as string;
  const message = await db.query<{ id: string }>(
    `INSERT INTO campaign_message (tenant_id, campaign_id, sort_order, text, usage_count, updated_at)
     VALUES ($1, $2, 0, 'Olá {{primeiro_nome}}! Temos novidades para você.', $3, now()) RETURNING id`,
    [tenantId, campaignId, opts.recipients],
  );
  await db.query(`INSERT INTO campaign_instance (campaign_id, instance_id, tenant_id) SELECT $1, unnest($2::uuid[]), $3`, [
    campaignId,
    instances.map((i) => i.id),
    tenantId,
  ]);
  await db.query(
    `INSERT INTO contact (tenant_id, phone, name, updated_at)
     SELECT $1::uuid, '+55119' || lpad((70000000 + g)::text, 8, '0'), 'Contato ' || g, now() FROM generate_series(1, $2::int) g`,
    [tenantId, opts.recipients],
  );
  // Key ids shaped like Baileys' (3EB0 + 18 hex digits); instances taken in turn, as round-robin would.
  await db.query(
    `INSERT INTO recipient (tenant_id, campaign_id, contact_id, seq, phone, status, instance_id, message_id, rendered_text,
       provider_message_id, attempts, queued_at, sending_at, sent_at, send_duration_ms, updated_at)
     SELECT $1::uuid, $2::uuid, c.id, c.n, c.phone, 'SENT', ($3::uuid[])[1 + c.n % cardinality($3::uuid[])], $4::uuid,
       'Olá ' || c.name || '! Temos novidades para você.', '3EB0' || upper(substr(md5($2 || ':' || c.n), 1, 18)), 1,
       now() - interval '50 minutes', now() - interval '40 minutes', now() - interval '40 minutes', 120, now()
     FROM (SELECT id, phone, name, row_number() OVER (ORDER BY phone)::int AS n FROM contact WHERE tenant_id = $1::uuid) c`,
    [tenantId, campaignId, instances.map((i) => i.id), message.rows[0]?.id],
  );
  await db.query('ANALYZE contact; ANALYZE recipient');
  const byId = new Map(instances.map((i) => [i.id, i]));
  const rows = await db.query<{ provider_message_id: string; phone: string; instance_id: string }>(
    'SELECT provider_message_id, phone, instance_id FROM recipient WHERE campaign_id = $1 ORDER BY seq',
    [campaignId],
  );
  return {
    campaignId,
    instances,
    recipients: rows.rows.map((r) => ({ keyId: r.provider_message_id, phone: r.phone.slice(1), instance: byId.get(r.instance_id) as BenchInstance })),
  };
}

/** The webhook URL path Evolution POSTs to for an instance (without "webhook by events"). */
export function webhookPath(instance: BenchInstance): string {
  return `/webhooks/evolution/${instance.webhookSecret}`;
}

/** A `messages.update` envelope exactly as Evolution 2.3.6 POSTs it (evolution-api.md §4–§5). */
export function messagesUpdate(r: SentRecipient, status: 'PENDING' | 'SERVER_ACK' | 'DELIVERY_ACK' | 'READ' | 'ERROR'): string {
  const now = new Date();
  return JSON.stringify({
    event: 'messages.update',
    instance: r.instance.name,
    data: {
      keyId: r.keyId,
      remoteJid: `${r.phone}@s.whatsapp.net`,
      fromMe: true,
      status,
      instanceId: r.instance.id,
      messageId: `cm${randomBytes(12).toString('hex').slice(0, 23)}`,
    },
    destination: `http://127.0.0.1${webhookPath(r.instance)}`,
    // Evolution's quirk: local wall-clock time with a misleading Z.
    date_time: new Date(now.getTime() - now.getTimezoneOffset() * 60_000).toISOString(),
    sender: '5511900000001@s.whatsapp.net',
    server_url: 'http://evolution.bench',
    apikey: 'B5E1C6A0-BENCH-INSTANCE-TOKEN',
  });
}
