import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { InstanceLimiter } from '../../src/features/dispatch/limiter.js';
import { localDay } from '../../src/infra/lib/local-time.js';
import { createRedis, tenantKey } from '../../src/infra/redis.js';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { type Stack, startStack } from '../helpers/stack.js';
import { insertContacts, newCampaign, numbers, uuidOf } from './helpers.js';

describe('the limiter after Redis lost its state', () => {
  let stack: Stack;
  const redis = createRedis('command');
  beforeAll(async () => {
    stack = await startStack({ workers: false });
  });
  afterAll(async () => {
    await redis.quit();
    await stack.close();
  });

  /** An instance that sent `n` messages `agoMs` ago (as PostgreSQL records them), and none of its limiter keys. */
  async function instanceThatSent(n: number, agoMs: number) {
    const { tenantId, key } = await newTenant('Limiter wipe');
    const sender = await addSender(stack, key);
    const instanceId = uuidOf(sender.instanceId);
    await insertContacts(tenantId, numbers(n, 70 + Math.floor(Math.random() * 900)).map((phone) => ({ phone })));
    const campaignId = await newCampaign(tenantId, [instanceId]);
    await prisma.$executeRaw`
      INSERT INTO recipient (tenant_id, campaign_id, contact_id, seq, phone, status, instance_id, sending_at, sent_at, provider_message_id)
      SELECT ${tenantId}::uuid, ${campaignId}::uuid, c.id, (row_number() OVER ())::int, c.phone, 'SENT', ${instanceId}::uuid,
             now() - make_interval(secs => ${agoMs / 1000}), now() - make_interval(secs => ${agoMs / 1000}), 'K' || c.id
      FROM contact c WHERE c.tenant_id = ${tenantId}::uuid`;
    await prisma.$executeRaw`UPDATE campaign SET updated_at = now() WHERE id = ${campaignId}::uuid`;
    const zone = (await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId } })).timezone;
    await deleteKeysMatching(redis, `${tenantKey(tenantId, 'limit', instanceId)}*`);
    return { tenantId, instanceId, zone };
  }

  it("rebuilds the minute's sends from PostgreSQL: no send beyond the per-minute limit after the loss", async () => {
    const { tenantId, instanceId } = await instanceThatSent(4, 20_000);
    const seeded: number[] = [];
    const limiter = new InstanceLimiter(redis, undefined, (_id, seed) => seeded.push(seed.sends.length));
    const limits = { perMinute: 5, perHour: 1000 };
    // Three sends want to go now: only one fits beside the four of 20 s ago.
    expect(await limiter.confirmMany(tenantId, instanceId, ['a', 'b', 'c'], limits, Date.now())).toBe(1);
    expect(seeded).toEqual([4]);
    // Rebuilt once: a second call finds the state whole.
    expect(await limiter.confirmMany(tenantId, instanceId, ['d'], limits, Date.now())).toBe(0);
    expect(seeded).toEqual([4]);
  });

  it("rebuilds the day's count: a reservation stops at the daily limit", async () => {
    const { tenantId, instanceId, zone } = await instanceThatSent(4, 1000);
    const limiter = new InstanceLimiter(redis);
    const r = await limiter.reserve(tenantId, instanceId, { perMinute: 1000, perHour: 10_000, perDay: 6, minDelayMs: 0, maxDelayMs: 0 }, 5, {
      now: Date.now(),
      horizonMs: 5000,
      localDay: localDay(new Date(), zone),
    });
    expect(r.slots).toHaveLength(2);
    expect(r.stoppedBy).toBe('day');
  });

  it('keeps the sending gap: the next slot comes at least minDelay after the last send PostgreSQL knows', async () => {
    const { tenantId, instanceId, zone } = await instanceThatSent(1, 1000);
    const limiter = new InstanceLimiter(redis);
    const now = Date.now();
    const r = await limiter.reserve(tenantId, instanceId, { perMinute: 1000, perHour: 10_000, perDay: 10_000, minDelayMs: 4000, maxDelayMs: 4000 }, 1, {
      now,
      horizonMs: 10_000,
      localDay: localDay(new Date(now), zone),
    });
    expect(r.slots).toHaveLength(1);
    // The last send was about a second ago: the gap of 4 s puts the next one about 3 s from now.
    expect(r.slots[0]!.at - now).toBeGreaterThan(2000);
  });
});
