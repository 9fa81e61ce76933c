import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updateCampaign } from '../../src/features/campaigns/service.js';
import { prisma } from '../../src/infra/db/client.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';
import { campaignRow, expectCountersMatchRecount, insertContacts, newCampaign, newRunningCampaign, numbers, sendsTo, uuidOf } from './helpers.js';

describe('typing presence', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ sim: { noReadRate: 1 } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("sends Evolution's delay, which the simulator holds before sending, and the next send of the instance starts after the typing and the gap", async () => {
    const { tenantId, key } = await newTenant('Typing');
    const sender = await addSender(stack, key, { minDelayMs: 100, maxDelayMs: 150 });
    const phones = numbers(6, 91);
    await insertContacts(tenantId, phones.map((phone) => ({ phone })));
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)], { pacing: { typingDelayMs: 400 } });

    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 60_000, 200);
    const sends = sendsTo(stack.sim.sends, phones);
    expect(sends).toHaveLength(6);
    for (const s of sends) {
      expect(s.delay).toBe(400);
      // The simulator held the request through the typing before it sent the message.
      expect(new Date(s.sentAt).getTime() - new Date(s.at).getTime()).toBeGreaterThanOrEqual(400);
    }
    const times = sends.map((s) => new Date(s.at).getTime()).sort((a, b) => a - b);
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    // Each request came after the previous one's typing (400 ms) and the instance's least gap (100 ms).
    expect(gaps.filter((g) => g < 500), `gaps: ${gaps.join(', ')}`).toEqual([]);
    // The logged request says it asked for typing.
    const log = await prisma.campaignLog.findFirst({ where: { campaignId, type: 'MESSAGE_SENT' } });
    expect((log?.request as { typingDelayMs?: number } | null)?.typingDelayMs).toBe(400);
    await expectCountersMatchRecount(campaignId);
  }, 90_000);

  it('is not sent when 0, and can be changed on a campaign', async () => {
    const { tenantId, key } = await newTenant('No typing');
    const sender = await addSender(stack, key);
    const phones = numbers(2, 92);
    const ids = await insertContacts(tenantId, phones.map((phone) => ({ phone })));
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)], { audience: { contactIds: ids } });
    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 60_000, 200);
    expect(sendsTo(stack.sim.sends, phones).map((s) => s.delay)).toEqual([0, 0]);
    const draft = await newCampaign(tenantId, [uuidOf(sender.instanceId)], { pacing: { typingDelayMs: 300 } });
    await updateCampaign(tenantId, draft, { pacing: { typingDelayMs: 1500 } }, 'test');
    expect((await campaignRow(draft)).typingDelayMs).toBe(1500);
  }, 90_000);
});
