import { randomBytes, randomUUID } from 'node:crypto';
import { createTenant } from '../../src/features/auth/api-keys.js';
import { bumpCampaign } from '../../src/features/campaigns/progress.js';
import { prisma } from '../../src/infra/db/client.js';
import { inTransaction } from '../../src/infra/db/transaction.js';
import { encryptSecret, randomToken } from '../../src/infra/lib/crypto.js';
import { logger } from '../../src/infra/lib/logger.js';
import { processWebhook } from '../../src/features/webhooks/process.js';

/** A small seeded PRNG (mulberry32): the same seed builds the same campaign. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T,
    chance: (p: number) => next() < p,
    shuffle: <T>(xs: T[]): T[] => {
      for (let i = xs.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [xs[i], xs[j]] = [xs[j] as T, xs[i] as T];
      }
      return xs;
    },
  };
}
export type Rng = ReturnType<typeof prng>;

export async function tenantWithInstances(name: string, instances: number, timezone = 'America/Sao_Paulo') {
  const { tenant, key } = await createTenant({ name, timezone });
  const server = await prisma.evolutionServer.create({
    data: { tenantId: tenant.id, name: `evo-${randomBytes(3).toString('hex')}`, baseUrl: 'http://evolution.invalid', apiKeyEncrypted: encryptSecret('k') },
  });
  const created = [];
  for (let i = 0; i < instances; i++) {
    created.push(
      await prisma.whatsAppInstance.create({
        data: { tenantId: tenant.id, serverId: server.id, name: `inst-${i}-${randomBytes(3).toString('hex')}`, webhookSecret: randomToken(), connectionState: 'OPEN' },
      }),
    );
  }
  return { tenantId: tenant.id, key, timezone, instances: created };
}

let phoneBase = 70_000_000 + Math.floor(Math.random() * 9_000_000);
export async function contactsFor(tenantId: string, n: number): Promise<Array<{ id: string; phone: string }>> {
  const first = phoneBase;
  phoneBase += n;
  return prisma.$queryRaw<Array<{ id: string; phone: string }>>`
    INSERT INTO contact (tenant_id, phone, name, updated_at)
    SELECT ${tenantId}::uuid, '+55119' || lpad((${first}::int + g)::text, 8, '0'), 'Contato ' || g, now()
    FROM generate_series(0, ${n - 1}::int) g
    RETURNING id, phone`;
}

export interface MessageSpec {
  text: string;
  abVariant?: string | null;
  trackLinks?: boolean;
}

export async function campaignWith(
  tenantId: string,
  opts: {
    name?: string;
    status?: 'RUNNING' | 'PAUSED' | 'COMPLETED' | 'CANCELLED';
    startedAt: Date;
    messages: MessageSpec[];
    instanceIds: string[];
    cost?: number | null;
    ab?: { share: number; metric?: 'READ_RATE' | 'REPLY_RATE' | 'CLICK_RATE' | 'CONVERSION_RATE'; minSample?: number; significance?: number; autoWinner?: boolean };
  },
) {
  return prisma.campaign.create({
    data: {
      tenantId,
      name: opts.name ?? `campaign ${randomBytes(3).toString('hex')}`,
      status: opts.status ?? 'RUNNING',
      startedAt: opts.startedAt,
      cost: opts.cost ?? null,
      ...(opts.ab
        ? {
            abEnabled: true,
            abTestShare: opts.ab.share,
            abMetric: opts.ab.metric ?? 'READ_RATE',
            abMinSample: opts.ab.minSample ?? 100,
            abSignificance: opts.ab.significance ?? 0.95,
            abAutoWinner: opts.ab.autoWinner ?? true,
          }
        : {}),
      messages: {
        create: opts.messages.map((m, i) => ({
          tenantId,
          order: i,
          text: m.text,
          abVariant: m.abVariant ?? null,
          abWeight: m.abVariant ? 100 / opts.messages.length : null,
          trackLinks: m.trackLinks ?? false,
        })),
      },
      instances: { create: opts.instanceIds.map((instanceId) => ({ instanceId, tenantId })) },
    },
    include: { messages: { orderBy: { order: 'asc' } } },
  });
}

export interface FrozenRecipient {
  id: string;
  contactId: string;
  phone: string;
  messageId: string | null;
  abVariant: string | null;
  status: 'QUEUED' | 'PENDING';
}

/** Freezes recipients as startCampaign does (QUEUED, or PENDING hold-out without a variation), counters included. */
export async function freeze(tenantId: string, campaignId: string, rows: Array<Omit<FrozenRecipient, 'id'>>): Promise<FrozenRecipient[]> {
  const withIds = rows.map((r) => ({ ...r, id: randomUUID() }));
  await inTransaction(async (tx, after) => {
    await tx.recipient.createMany({
      data: withIds.map((r, i) => ({
        id: r.id,
        tenantId,
        campaignId,
        contactId: r.contactId,
        seq: i + 1,
        phone: r.phone,
        status: r.status,
        messageId: r.messageId,
        abVariant: r.abVariant,
        queuedAt: r.status === 'QUEUED' ? new Date() : null,
      })),
    });
    await bumpCampaign(tx, after, campaignId, { targeted: rows.length, remaining: rows.length });
  });
  return withIds;
}

/** Marks recipients sent as a successful send does (status, key id, instance, times), with the counters. */
export async function markSent(campaignId: string, sends: Array<{ id: string; instanceId: string; sentAt: Date; durationMs: number; keyId: string }>) {
  if (sends.length === 0) return;
  await inTransaction(async (tx, after) => {
    for (const s of sends) {
      await tx.$executeRaw`
        UPDATE recipient SET status = 'SENT', instance_id = ${s.instanceId}::uuid, provider_message_id = ${s.keyId}, sending_at = ${s.sentAt},
          sent_at = ${s.sentAt}, send_duration_ms = ${s.durationMs}, attempts = attempts + 1, updated_at = now()
        WHERE id = ${s.id}::uuid AND status = 'QUEUED'`;
    }
    await bumpCampaign(tx, after, campaignId, { sent: sends.length, remaining: -sends.length });
  });
}

/** Final states reached without a send: FAILED (refused), UNKNOWN or SKIPPED, with the counters. */
export async function markUnsent(
  campaignId: string,
  status: 'FAILED' | 'UNKNOWN' | 'SKIPPED',
  rows: Array<{ id: string; instanceId: string | null; at: Date; code?: string; error?: string }>,
) {
  if (rows.length === 0) return;
  await inTransaction(async (tx, after) => {
    for (const r of rows) {
      await tx.$executeRaw`
        UPDATE recipient SET status = ${status}::"RecipientStatus", instance_id = ${r.instanceId}::uuid, error_code = ${r.code ?? null}, error = ${r.error ?? null},
          failed_at = CASE WHEN ${status} = 'FAILED' THEN ${r.at}::timestamptz END,
          skipped_at = CASE WHEN ${status} = 'SKIPPED' THEN ${r.at}::timestamptz END, updated_at = now()
        WHERE id = ${r.id}::uuid AND status = 'QUEUED'`;
    }
    const key = status === 'FAILED' ? 'failed' : status === 'UNKNOWN' ? 'unknown' : 'skipped';
    await bumpCampaign(tx, after, campaignId, { [key]: rows.length, remaining: -rows.length });
  });
}

const fx = { pump: async () => undefined, log: logger };

/** A delivery receipt through the real webhook processor (messages.update, Evolution 2.3 shape). */
export function applyReceipt(tenantId: string, instanceId: string, keyId: string, status: string, at: Date) {
  return processWebhook(
    {
      tenantId,
      instanceId,
      receivedAt: at.toISOString(),
      event: 'messages.update',
      data: { keyId, remoteJid: '5511999999999@s.whatsapp.net', fromMe: true, status, instanceId: randomUUID(), messageId: `cm${randomBytes(6).toString('hex')}` },
    },
    fx,
  );
}

/** An incoming message from `phone` through the real replies pipeline (messages.upsert). */
export function applyReply(tenantId: string, instanceId: string, phone: string, text: string, at: Date) {
  return processWebhook(
    {
      tenantId,
      instanceId,
      receivedAt: at.toISOString(),
      event: 'messages.upsert',
      data: {
        key: { remoteJid: `${phone.replace(/\D/g, '')}@s.whatsapp.net`, fromMe: false, id: `3EB0${randomBytes(9).toString('hex').toUpperCase()}` },
        message: { conversation: text },
        messageType: 'conversation',
      },
    },
    fx,
  );
}

export function keyId(): string {
  return `3EB0${randomBytes(9).toString('hex').toUpperCase()}`;
}

export const BROWSER = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36';

/** GET a short link like a phone's browser would (redirects not followed). */
export function click(url: string, userAgent = BROWSER, method = 'GET') {
  return fetch(url, { method, redirect: 'manual', headers: { 'user-agent': userAgent } });
}
