import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { config } from '../../src/infra/config/index.js';
import { prisma } from '../../src/infra/db/client.js';
import { logger } from '../../src/infra/lib/logger.js';
import { createRedis } from '../../src/infra/redis.js';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { INBOX_MAX_ATTEMPTS, InboxConsumer } from '../../src/features/webhooks/inbox.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';
import { envelope, post, receipt, seedCampaign, webhooksIdle } from './fixtures.js';
import { tenantWithInstance } from './senders.js';

async function inboxRows() {
  return prisma.$queryRaw<Array<{ id: bigint; event: string; data: unknown; attempts: number; failed_at: Date | null; last_error: string | null }>>`
    SELECT id, event, data, attempts, failed_at, last_error FROM webhook_inbox ORDER BY id`;
}

/** Deletes every Redis key of this test file: what a Redis restart without persistence does. */
async function wipeRedis() {
  const redis = createRedis('command');
  await deleteKeysMatching(redis, `${config.redisPrefix}*`);
  await redis.quit();
}

describe('the webhook inbox: an event is acknowledged only once it is durable', () => {
  let stack: Stack;
  beforeAll(async () => {
    // No worker: the events wait in the inbox until this file starts a consumer.
    stack = await startStack({ workers: false });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('an acknowledged receipt is in PostgreSQL before the answer, survives the loss of every Redis key, and is applied once a worker runs', async () => {
    const s = await tenantWithInstance();
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 1 });
    const r0 = c.recipients[0] as { id: string; keyId: string };
    const res = await post(s.url, envelope('messages.update', s.name, receipt(r0.keyId, 'READ')));
    expect(res).toMatchObject({ status: 200, body: { ok: true } });
    const rows = await inboxRows();
    expect(rows.map((r) => r.event)).toEqual(['messages.update']);
    expect(rows[0]?.data).toMatchObject({ keyId: r0.keyId, status: 'READ' });

    await wipeRedis();
    const consumer = new InboxConsumer({ concurrency: 4, log: logger, effects: { pump: async () => undefined, log: logger } });
    try {
      await webhooksIdle();
      expect(await inboxRows()).toEqual([]);
      expect((await prisma.recipient.findUniqueOrThrow({ where: { id: r0.id } })).status).toBe('READ');
      expect(consumer.outcomes.size).toBeGreaterThan(0);
    } finally {
      await consumer.close();
    }
  });

  it('an event that can never be applied is kept with its error, at once, and does not hold up the others', async () => {
    const s = await tenantWithInstance();
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 1 });
    const r0 = c.recipients[0] as { id: string; keyId: string };
    // Written by an older server, or edited by hand: data its event's schema refuses.
    await prisma.$executeRaw`
      INSERT INTO webhook_inbox (tenant_id, instance_id, event, data, received_at)
      VALUES (${s.tenantId}::uuid, ${s.instanceId}::uuid, 'messages.update', '{"nothing": true}'::jsonb, now())`;
    expect((await post(s.url, envelope('messages.update', s.name, receipt(r0.keyId, 'DELIVERY_ACK')))).status).toBe(200);
    const consumer = new InboxConsumer({ concurrency: 4, log: logger, effects: { pump: async () => undefined, log: logger } });
    try {
      await webhooksIdle();
      const rows = await inboxRows();
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ attempts: 1 });
      expect(rows[0]?.failed_at).not.toBeNull();
      expect(rows[0]?.last_error).toMatch(/invalid data for messages.update/);
      expect((await prisma.recipient.findUniqueOrThrow({ where: { id: r0.id } })).status).toBe('DELIVERED');
      expect(INBOX_MAX_ATTEMPTS).toBeGreaterThan(1);
    } finally {
      await consumer.close();
      await prisma.$executeRaw`DELETE FROM webhook_inbox`;
    }
  });

  it('keeps an event whose text carries a NUL (dropping the character): a reply is stored, not refused', async () => {
    const s = await tenantWithInstance();
    const data = {
      key: { remoteJid: '5511988887777@s.whatsapp.net', fromMe: false, id: '3A00NUL000000000000001' },
      pushName: 'Ana\u0000',
      message: { conversation: 'Oi\u0000 tudo bem?' },
      messageType: 'conversation',
      messageTimestamp: Math.floor(Date.now() / 1000),
    };
    expect((await post(s.url, envelope('messages.upsert', s.name, data))).status).toBe(200);
    const consumer = new InboxConsumer({ concurrency: 4, log: logger, effects: { pump: async () => undefined, log: logger } });
    try {
      await webhooksIdle();
      const reply = await waitFor(() => prisma.reply.findFirst({ where: { tenantId: s.tenantId } }), 10_000);
      expect(reply.text).toBe('Oi tudo bem?');
    } finally {
      await consumer.close();
    }
  });
});
