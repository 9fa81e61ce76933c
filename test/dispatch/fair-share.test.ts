import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

// One tenant's share of the queue, small enough to keep this test's volumes small (the default
// follows DISPATCH_CONCURRENCY; the mechanism is the same). Set before the config is read.
vi.hoisted(() => {
  process.env.DISPATCH_LOOKAHEAD = '100';
});

import { cancelCampaign, startCampaign } from '../../src/features/campaigns/lifecycle.js';
import { prisma } from '../../src/infra/db/client.js';
import { config } from '../../src/infra/config/index.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';
import { campaignRow, expectNoDuplicate, insertContacts, newCampaign, newRunningCampaign, numbers, sendsTo, uuidOf } from './helpers.js';

describe('fair share between tenants', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ sim: { noReadRate: 1, latencyMs: 5 } });
  });
  afterAll(async () => {
    await stack.close();
  });

  it("a tenant's large campaigns do not make another tenant's small one wait behind them", async () => {
    const big = await newTenant('Big tenant');
    const small = await newTenant('Small tenant');
    const bigSender = await addSender(stack, big.key);
    const smallSender = await addSender(stack, small.key);
    await prisma.whatsAppInstance.updateMany({
      where: { id: { in: [uuidOf(bigSender.instanceId), uuidOf(smallSender.instanceId)] } },
      data: { limitPerMinute: 100_000, limitPerHour: 1_000_000 },
    });

    // Five campaigns of 300 for the big tenant (its contacts split by campaign), then one of 20.
    const bigCampaigns: string[] = [];
    const bigPhones: string[] = [];
    for (let k = 0; k < 5; k++) {
      const phones = numbers(300, 60 + k);
      bigPhones.push(...phones);
      const ids = await insertContacts(big.tenantId, phones.map((phone) => ({ phone })));
      bigCampaigns.push(await newCampaign(big.tenantId, [uuidOf(bigSender.instanceId)], { audience: { contactIds: ids } }));
    }
    await Promise.all(bigCampaigns.map((id) => startCampaign(big.tenantId, id, 'test')));
    await waitFor(async () => sendsTo(stack.sim.sends, bigPhones).length >= 50, 20_000);

    const smallPhones = numbers(20, 70);
    await insertContacts(small.tenantId, smallPhones.map((phone) => ({ phone })));
    const smallCampaign = await newRunningCampaign(small.tenantId, [uuidOf(smallSender.instanceId)]);
    await waitFor(async () => (await campaignRow(smallCampaign)).status === 'COMPLETED', 60_000);

    // The big tenant's sends that went out between the small campaign's start and its last send:
    // bounded by one tenant's share of the queue (100), not by its five campaigns' (5 × 100).
    expect(config.dispatchLookahead).toBe(100);
    const all = stack.sim.sends;
    const smallSends = sendsTo(all, smallPhones);
    expect(smallSends).toHaveLength(20);
    expectNoDuplicate(smallSends);
    const bigSet = new Set(bigPhones.map((p) => p.slice(1)));
    const lastSmall = Math.max(...smallSends.map((s) => s.seq));
    const startedAt = (await campaignRow(smallCampaign)).startedAt!.getTime();
    const bigBefore = all.filter((s) => bigSet.has(s.number) && new Date(s.at).getTime() >= startedAt && s.seq < lastSmall).length;
    const bigTotal = sendsTo(all, bigPhones).length;
    expect(bigTotal).toBeLessThan(1500); // the big tenant was still sending when the small one finished
    expect(bigBefore).toBeLessThan(250);

    for (const id of bigCampaigns) await cancelCampaign(big.tenantId, id, 'test');
    expectNoDuplicate(sendsTo(stack.sim.sends, bigPhones));
  });
});
