import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';
import { campaignRow, expectCountersMatchRecount, expectNoDuplicate, insertContacts, logsOf, newRunningCampaign, numbers, uuidOf } from './helpers.js';

describe('Evolution killed while a campaign sends', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ sim: { noReadRate: 1, latencyMs: 30 } });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('sends wait for the server without using attempts or pausing the campaign, and go once it is back, each once', async () => {
    const { tenantId, key } = await newTenant('Evolution down');
    const sender = await addSender(stack, key, { minDelayMs: 200, maxDelayMs: 200 });
    const phones = numbers(30, 95);
    await insertContacts(tenantId, phones.map((phone) => ({ phone })));
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)], { pacing: { maxAttempts: 2, errorThreshold: 3 } });
    await waitFor(async () => (await campaignRow(campaignId)).sentCount >= 5, 30_000);

    await stack.sim.crash();
    // Down for a while: connections are refused.
    // The first refused call logs it; under load the sends in flight when it died end UNKNOWN first and
    // hold the instance back (unreachable backoff), so the first refused call may come some seconds later.
    await waitFor(async () => (await logsOf(campaignId, 'ERROR')).some((l) => /does not answer/.test(l.message)), 60_000);
    await new Promise((r) => setTimeout(r, 3000));
    const during = await campaignRow(campaignId);
    expect(during.status).toBe('RUNNING'); // not paused by its error threshold (3)
    const waiting = await prisma.recipient.findMany({ where: { campaignId, status: 'QUEUED' } });
    expect(waiting.length).toBeGreaterThan(0);
    // Put back as never tried: no attempt used, no UNAVAILABLE failure on the way to FAILED.
    expect(waiting.filter((r) => r.errorCode === 'UNAVAILABLE' || r.attempts > 1)).toEqual([]);
    expect(await prisma.recipient.count({ where: { campaignId, status: 'FAILED' } })).toBe(0);
    await stack.sim.restart();

    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 60_000);
    const rows = await prisma.recipient.findMany({ where: { campaignId } });
    expect(rows.filter((r) => r.status === 'FAILED')).toEqual([]);
    expect(rows.every((r) => ['SENT', 'DELIVERED', 'READ'].includes(r.status))).toBe(true);
    // One warning for the outage, not one per send.
    expect((await logsOf(campaignId, 'ERROR')).filter((l) => /does not answer/.test(l.message)).length).toBeLessThanOrEqual(2);
    expectNoDuplicate(stack.sim.sends);
    await expectCountersMatchRecount(campaignId);
  }, 120_000);
});
