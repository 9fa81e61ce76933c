import { randomBytes } from 'node:crypto';
import { prisma } from '../../src/infra/db/client.js';
import { foldHealth, HEALTH_DELTA } from '../../src/domain/health.js';
import { afterAll, beforeAll } from 'vitest';
import { startWorkers, type WorkerRuntime } from '../../src/workers/runtime.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';

/**
 * The file's stack with only the webhook worker running (no pump or maintenance job touches the
 * campaigns the tests build), started before its tests and stopped after. Returns a getter.
 */
export function useWebhookStack(): () => Stack {
  let stack: Stack | undefined;
  let workers: WorkerRuntime | undefined;
  beforeAll(async () => {
    stack = await startStack({ workers: false });
    workers = await startWorkers(['webhooks']);
  });
  afterAll(async () => {
    await workers?.close();
    await stack?.close();
  });
  return () => {
    if (!stack) throw new Error('the webhook stack is not started');
    return stack;
  };
}

/** A provider key id shaped like Baileys' (`3EB0…`, 22 characters). */
export function keyId(): string {
  return `3EB0${randomBytes(9).toString('hex').toUpperCase()}`;
}

export function envelope(event: string, instance: string, data: unknown) {
  return {
    event,
    instance,
    data,
    destination: 'http://receiver.example/hooks',
    date_time: new Date().toISOString(),
    sender: '5511900000000@s.whatsapp.net',
    server_url: 'http://evolution.example',
    apikey: 'B5E1C6A0-INSTANCE-TOKEN',
  };
}

/** `messages.update` data exactly as Evolution 2.3.6 sends it (evolution-api.md §5). */
export function receipt(key: string, status: string | number, extra: Record<string, unknown> = {}) {
  return {
    keyId: key,
    remoteJid: '5511999999999@s.whatsapp.net',
    fromMe: true,
    status,
    instanceId: 'b6c1f0d2-7a1e-4c1b-9d5e-3f2a1b0c9d8e',
    messageId: `cm${randomBytes(8).toString('hex')}`,
    ...extra,
  };
}

export async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, body: json as { ok?: boolean; ignored?: string; error?: { code: string; message: string; issues?: unknown[] } } };
}

/** Waits until every acknowledged webhook event is applied (the inbox holds none waiting or being applied). */
export async function webhooksIdle(timeoutMs = 60_000) {
  await waitFor(
    async () => {
      const [row] = await prisma.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM webhook_inbox WHERE failed_at IS NULL`;
      return row?.n === 0;
    },
    timeoutMs,
    20,
  );
}

/** Webhook events that failed for good (kept in the inbox with failed_at). */
export async function failedWebhooks(): Promise<number> {
  const [row] = await prisma.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM webhook_inbox WHERE failed_at IS NOT NULL`;
  return row?.n ?? 0;
}

export interface SeededCampaign {
  campaignId: string;
  contactIds: string[];
  recipients: Array<{ id: string; contactId: string; phone: string; keyId: string | null }>;
}

let phoneSeq = 0;
/** Distinct Brazilian mobile numbers (E.164: +55 11 9 8XXX-XXXX) for this test process. */
export function uniquePhones(n: number): string[] {
  const base = 80_000_000 + Math.floor(Math.random() * 9_000_000) + phoneSeq;
  phoneSeq += n;
  return Array.from({ length: n }, (_, i) => `+55119${String(base + i).padStart(8, '0')}`);
}

/**
 * A campaign built directly in SQL: `n` contacts and one recipient each, in `recipientStatus`,
 * with counters equal to a recount. SENT recipients hold a provider key id and a send time.
 */
export async function seedCampaign(opts: {
  tenantId: string;
  instanceId: string;
  n: number;
  campaignStatus?: 'RUNNING' | 'COMPLETED' | 'PAUSED';
  recipientStatus?: 'SENT' | 'SENDING' | 'QUEUED' | 'UNKNOWN';
  sentAt?: Date;
  phones?: string[];
  /** The provider key id of the i-th SENT recipient (default: Baileys-shaped). */
  keyOf?: (i: number) => string;
}): Promise<SeededCampaign> {
  const status = opts.recipientStatus ?? 'SENT';
  const phones = opts.phones ?? uniquePhones(opts.n);
  await prisma.contact.createMany({
    data: phones.map((phone) => ({ tenantId: opts.tenantId, phone, name: `Contato ${phone.slice(-4)}` })),
    skipDuplicates: true,
  });
  const found = await prisma.contact.findMany({ where: { tenantId: opts.tenantId, phone: { in: phones } }, select: { id: true, phone: true } });
  const idByPhone = new Map(found.map((c) => [c.phone, c.id]));
  const contactIds = phones.map((p) => idByPhone.get(p) as string);
  const sent = status === 'SENT' ? opts.n : 0;
  const campaign = await prisma.campaign.create({
    data: {
      tenantId: opts.tenantId,
      name: `seeded ${randomBytes(3).toString('hex')}`,
      status: opts.campaignStatus ?? 'COMPLETED',
      startedAt: new Date(Date.now() - 3600_000),
      completedAt: (opts.campaignStatus ?? 'COMPLETED') === 'COMPLETED' ? new Date() : null,
      targetedCount: opts.n,
      sentCount: sent,
      unknownCount: status === 'UNKNOWN' ? opts.n : 0,
      remainingCount: status === 'SENDING' || status === 'QUEUED' ? opts.n : 0,
      instances: { create: { instanceId: opts.instanceId, tenantId: opts.tenantId } },
      messages: { create: { tenantId: opts.tenantId, text: 'Olá {{nome}}' } },
    },
    select: { id: true, messages: { select: { id: true } } },
  });
  const messageId = campaign.messages[0]?.id ?? null;
  const sentAt = opts.sentAt ?? new Date(Date.now() - 60_000);
  const recipients = phones.map((phone, i) => ({
    id: undefined as unknown as string,
    contactId: contactIds[i] as string,
    phone,
    keyId: status === 'SENT' ? (opts.keyOf?.(i) ?? keyId()) : null,
  }));
  const created = await prisma.recipient.createManyAndReturn({
    data: recipients.map((r, i) => ({
      tenantId: opts.tenantId,
      campaignId: campaign.id,
      contactId: r.contactId,
      seq: i + 1,
      phone: r.phone,
      status,
      instanceId: status === 'QUEUED' ? null : opts.instanceId,
      messageId,
      providerMessageId: r.keyId,
      renderedText: 'Olá',
      queuedAt: sentAt,
      sendingAt: status === 'QUEUED' ? null : sentAt,
      sentAt: status === 'SENT' ? sentAt : null,
    })),
    select: { id: true, contactId: true },
  });
  const idByContact = new Map(created.map((c) => [c.contactId, c.id]));
  for (const r of recipients) r.id = idByContact.get(r.contactId) as string;
  return { campaignId: campaign.id, contactIds, recipients };
}

/** The campaign's counters, and the same figures recounted from its recipients. */
export async function countersAndRecount(campaignId: string) {
  const c = await prisma.campaign.findUniqueOrThrow({ where: { id: campaignId } });
  const counters = {
    targeted: c.targetedCount,
    sent: c.sentCount,
    delivered: c.deliveredCount,
    read: c.readCount,
    replied: c.repliedCount,
    failed: c.failedCount,
    skipped: c.skippedCount,
    unknown: c.unknownCount,
    remaining: c.remainingCount,
  };
  const [recount] = await prisma.$queryRaw<Array<typeof counters>>`
    SELECT count(*)::int AS targeted, count(sent_at)::int AS sent, count(delivered_at)::int AS delivered,
           count(read_at)::int AS read, count(replied_at)::int AS replied,
           count(*) FILTER (WHERE status = 'FAILED')::int AS failed,
           count(*) FILTER (WHERE status = 'SKIPPED')::int AS skipped,
           count(*) FILTER (WHERE status = 'UNKNOWN')::int AS unknown,
           count(*) FILTER (WHERE status IN ('QUEUED', 'SENDING', 'PENDING'))::int AS remaining
    FROM recipient WHERE campaign_id = ${campaignId}::uuid`;
  return { counters, recount: recount as typeof counters };
}

/**
 * An instance's counters, and what they should be: today's and total delivered / read / failed
 * recounted from its recipients (all of them were sent today in these tests), and the health score
 * folded from its delivery log in log order, clamped at every step as the database does.
 */
export async function instanceAndRecount(instanceId: string, start = { health: 100, delivered: 0, read: 0, failed: 0 }) {
  const i = await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: instanceId } });
  const [r] = await prisma.$queryRaw<Array<{ delivered: number; read: number; failed: number }>>`
    SELECT count(delivered_at)::int AS delivered, count(read_at)::int AS read, count(*) FILTER (WHERE status = 'FAILED')::int AS failed
    FROM recipient WHERE instance_id = ${instanceId}::uuid`;
  const logs = await prisma.$queryRaw<Array<{ type: string }>>`
    SELECT type::text FROM campaign_log
    WHERE instance_id = ${instanceId}::uuid AND type IN ('MESSAGE_DELIVERED', 'MESSAGE_READ', 'MESSAGE_FAILED') ORDER BY id`;
  const delta = { MESSAGE_DELIVERED: HEALTH_DELTA.delivered, MESSAGE_READ: HEALTH_DELTA.read, MESSAGE_FAILED: HEALTH_DELTA.failed } as Record<string, number>;
  return {
    actual: {
      deliveredToday: i.deliveredToday,
      readToday: i.readToday,
      failedToday: i.failedToday,
      totalDelivered: i.totalDelivered,
      totalRead: i.totalRead,
      totalFailed: i.totalFailed,
      healthScore: i.healthScore,
    },
    expected: {
      deliveredToday: start.delivered + (r?.delivered ?? 0),
      readToday: start.read + (r?.read ?? 0),
      failedToday: start.failed + (r?.failed ?? 0),
      totalDelivered: start.delivered + (r?.delivered ?? 0),
      totalRead: start.read + (r?.read ?? 0),
      totalFailed: start.failed + (r?.failed ?? 0),
      healthScore: foldHealth(
        start.health,
        logs.map((l) => delta[l.type] as number),
      ),
    },
  };
}

export async function logsOf(recipientId: string) {
  return prisma.campaignLog.findMany({ where: { recipientId }, orderBy: { id: 'asc' }, select: { type: true, severity: true, details: true } });
}
