import { afterAll, describe, expect, it } from 'vitest';
import { createTenant } from '../../src/features/auth/api-keys.js';
import { prisma } from '../../src/infra/db/client.js';
import { resetDailyCounters } from '../../src/features/health/service.js';
import { channel, closePubsub } from '../../src/infra/realtime/pubsub.js';
import { createRedis } from '../../src/infra/redis.js';

async function instanceOf(timezone: string, lastReset: Date) {
  const { tenant } = await createTenant({ name: `Reset ${timezone}`, timezone });
  const server = await prisma.evolutionServer.create({ data: { tenantId: tenant.id, name: 's', baseUrl: 'http://127.0.0.1:1', apiKeyEncrypted: 'x' } });
  return prisma.whatsAppInstance.create({
    data: {
      tenantId: tenant.id,
      serverId: server.id,
      name: `i-${timezone}`,
      webhookSecret: `secret-${timezone}-${Math.random()}`,
      sentToday: 7,
      deliveredToday: 5,
      readToday: 3,
      failedToday: 1,
      totalSent: 70,
      lastDailyResetAt: lastReset,
    },
  });
}

describe('daily counters', () => {
  afterAll(async () => {
    await closePubsub();
    await prisma.$disconnect();
  });

  it("reset at the tenant's local midnight, not UTC's, and keep the totals", async () => {
    const lastReset = new Date('2026-06-01T14:58:00Z'); // 23:58 in Tokyo, 11:58 in São Paulo
    const tokyo = await instanceOf('Asia/Tokyo', lastReset);
    const saoPaulo = await instanceOf('America/Sao_Paulo', lastReset);

    await resetDailyCounters(new Date('2026-06-01T14:59:00Z'));
    expect(await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: tokyo.id } })).toMatchObject({ sentToday: 7 });

    const now = new Date('2026-06-01T15:01:00Z'); // 00:01 the next day in Tokyo, 12:01 the same day in São Paulo
    // Each reset instance is announced on its health channel (live feeds, response caches), only those.
    const listener = createRedis('subscriber');
    const heard: string[] = [];
    listener.on('message', (ch: string) => heard.push(ch));
    await listener.subscribe(channel('instance:health', tokyo.tenantId, tokyo.id), channel('instance:health', saoPaulo.tenantId, saoPaulo.id));
    await resetDailyCounters(now);
    const until = Date.now() + 5000;
    while (heard.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    await listener.quit();
    expect(heard).toEqual([channel('instance:health', tokyo.tenantId, tokyo.id)]);
    expect(await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: tokyo.id } })).toMatchObject({
      sentToday: 0,
      deliveredToday: 0,
      readToday: 0,
      failedToday: 0,
      totalSent: 70,
      lastDailyResetAt: now,
    });
    expect(await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: saoPaulo.id } })).toMatchObject({ sentToday: 7, lastDailyResetAt: lastReset });

    // São Paulo's midnight (03:00 UTC) resets the other one; a second pass the same day changes nothing.
    await resetDailyCounters(new Date('2026-06-02T03:00:30Z'));
    expect(await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: saoPaulo.id } })).toMatchObject({ sentToday: 0 });
    await prisma.whatsAppInstance.update({ where: { id: saoPaulo.id }, data: { sentToday: 2 } });
    await resetDailyCounters(new Date('2026-06-02T20:00:00Z'));
    expect(await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: saoPaulo.id } })).toMatchObject({ sentToday: 2 });
  });
});
