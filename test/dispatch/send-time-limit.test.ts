// A send job asks the limiter for its slots while it claims recipients (src/features/dispatch/send.ts,
// startChunk). When the limiter refuses some slots at send time (the minute is already full because
// earlier jobs ran late), the recipients claimed for them must go back to the queue untouched, and
// only the confirmed ones are sent. The job is run directly (no worker), with the product's own
// limiter, permits and Redis, against the stack's simulator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { InstanceLimiter } from '../../src/features/dispatch/limiter.js';
import { SendPermits } from '../../src/features/dispatch/permits.js';
import { type DispatchDeps, processSend } from '../../src/features/dispatch/send.js';
import { logger } from '../../src/infra/lib/logger.js';
import { localDay } from '../../src/infra/lib/local-time.js';
import { createRedis } from '../../src/infra/redis.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { type Stack, startStack } from '../helpers/stack.js';
import { insertContacts, newRunningCampaign, numbers, sendsTo, uuidOf } from './helpers.js';

describe('slots the limiter refuses when the job runs', () => {
  let stack: Stack;
  const redis = createRedis('command');
  beforeAll(async () => {
    stack = await startStack({ workers: false });
  });
  afterAll(async () => {
    await redis.quit();
    await stack.close();
  });

  it('put the recipients claimed for them back in the queue as never claimed; only the confirmed slot sends', async () => {
    const { tenantId, key } = await newTenant('Send-time limit');
    const sender = await addSender(stack, key, { limitPerMinute: 2 });
    const instanceId = uuidOf(sender.instanceId);
    const phones = numbers(5, 71);
    await insertContacts(tenantId, phones.map((phone) => ({ phone })));
    // No worker runs: the campaign's recipients stay QUEUED until this test's job takes them.
    const campaignId = await newRunningCampaign(tenantId, [instanceId]);

    const limiter = new InstanceLimiter(redis);
    // One send of this instance already happened this minute (another job, another campaign).
    expect(await limiter.confirm(tenantId, instanceId, 'earlier-send', { perMinute: 2, perHour: 1000 }, Date.now())).toBe(true);

    const pumps: string[] = [];
    const deps: DispatchDeps = {
      redis,
      limiter,
      permits: new SendPermits(10),
      log: logger,
      requestPump: async (_t, c) => {
        pumps.push(c);
      },
      lookahead: 100,
      tenantLookahead: 100,
      phoneLockMs: 30_000,
    };
    const day = localDay(new Date(), 'America/Sao_Paulo');
    const outcome = await processSend(deps, {
      id: 'send-time-limit-job',
      attemptsStarted: 1,
      data: { tenantId, campaignId, instanceId, slots: ['slot-a', 'slot-b', 'slot-c'], slotAt: Date.now(), day },
    });

    // The minute holds 2: the earlier send and slot-a. slot-b and slot-c wait.
    expect(outcome).toMatch(/^(sent 1, rate-wait 2|rate-wait 2, sent 1)$/);
    const rows = await prisma.recipient.findMany({ where: { campaignId }, orderBy: { seq: 'asc' } });
    expect(rows.map((r) => r.status)).toEqual(['SENT', 'QUEUED', 'QUEUED', 'QUEUED', 'QUEUED']);
    for (const r of rows.slice(1)) {
      expect({ attempts: r.attempts, claimToken: r.claimToken, sendingAt: r.sendingAt, instanceId: r.instanceId, notBefore: r.notBefore }).toEqual({
        attempts: 0,
        claimToken: null,
        sendingAt: null,
        instanceId: null,
        notBefore: null,
      });
    }
    expect(rows[0]?.attempts).toBe(1);
    // Evolution was called once, for the first recipient only.
    const sent = sendsTo(stack.sim.sends, phones);
    expect(sent.map((s) => s.number)).toEqual([(rows[0]?.phone ?? '').replace(/\D/g, '')]);
    // The refused slots were given back: the minute holds the earlier send and slot-a only.
    expect(await limiter.confirmMany(tenantId, instanceId, ['probe'], { perMinute: 3, perHour: 1000 }, Date.now())).toBe(1);
    expect(await limiter.confirmMany(tenantId, instanceId, ['probe-2'], { perMinute: 3, perHour: 1000 }, Date.now())).toBe(0);
    // The campaign asks to be pumped again, so the rest is sent once the minute has room.
    expect(pumps).toContain(campaignId);
  });
});
