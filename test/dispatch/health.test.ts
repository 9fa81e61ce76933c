import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelCampaign } from '../../src/features/campaigns/lifecycle.js';
import { prisma } from '../../src/infra/db/client.js';
import { healthMaintenance } from '../../src/features/health/service.js';
import { requestCampaignPump } from '../../src/infra/queues/pump.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';
import {
  campaignRow,
  expectCountersMatchRecount,
  expectNoDuplicate,
  insertContacts,
  logsOf,
  newRunningCampaign,
  numbers,
  sendsTo,
  uuidOf,
} from './helpers.js';

describe('instance health in the dispatch', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ sim: { noReadRate: 1 } });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('pauses an instance whose failures push it below the threshold, moves its share, and re-admits it after the cool-down', async () => {
    const { tenantId, key } = await newTenant('Health');
    const healthy = await addSender(stack, key, { minDelayMs: 200, maxDelayMs: 200 });
    const failing = await addSender(stack, key, { minDelayMs: 200, maxDelayMs: 200 });
    const healthyId = uuidOf(healthy.instanceId);
    const failingId = uuidOf(failing.instanceId);
    stack.sim.configure({ instanceFailureRates: { [failing.name]: 1 } });
    const phones = numbers(40, 30);
    await insertContacts(tenantId, phones.map((phone) => ({ phone })));
    const first = await newRunningCampaign(tenantId, [healthyId, failingId], { rotationMode: 'ROUND_ROBIN' });

    await waitFor(async () => (await campaignRow(first)).status === 'COMPLETED', 40_000);
    await stack.sim.drain();
    const paused = await waitFor(async () => {
      const i = await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: failingId } });
      return i.autoPausedAt ? i : null;
    }, 10_000);
    expect(paused.healthScore).toBeLessThan(50);
    expect(paused.manuallyPaused).toBe(false);

    const issue = await logsOf(first, 'HEALTH_ISSUE');
    expect(issue).toHaveLength(1);
    expect(issue[0]).toMatchObject({ instanceId: failingId, severity: 'WARNING' });
    expect(issue[0]?.message).toMatch(/below the threshold of 50/);
    const instancePaused = await logsOf(first, 'INSTANCE_PAUSED');
    expect(instancePaused).toHaveLength(1);
    expect(instancePaused[0]?.instanceId).toBe(failingId);
    const changed = await logsOf(first, 'ROTATION_CHANGED');
    expect(changed.some((l) => JSON.stringify(l.details).includes('paused by the health rules'))).toBe(true);

    // Its share moved: every contact got the message once, the last ones from the healthy instance.
    const sends = sendsTo(stack.sim.sends, phones);
    expect(sends).toHaveLength(40);
    expectNoDuplicate(sends);
    const byFailing = sends.filter((s) => s.instance === failing.name).length;
    expect(byFailing).toBeGreaterThanOrEqual(6);
    expect(byFailing).toBeLessThan(20);
    expect(sends.at(-1)?.instance).toBe(healthy.name);
    await expectCountersMatchRecount(first);
    expect((await campaignRow(first)).failedCount).toBe(byFailing);

    // A second campaign runs on the healthy instance while the other rests.
    stack.sim.configure({ instanceFailureRates: {} });
    const later = numbers(300, 31);
    await insertContacts(tenantId, later.map((phone) => ({ phone })));
    const second = await newRunningCampaign(tenantId, [healthyId, failingId], { rotationMode: 'ROUND_ROBIN', audience: { contactIds: await contactIds(tenantId, later) } });
    await waitFor(async () => sendsTo(stack.sim.sends, later).length >= 3, 20_000);

    // Half an hour of rest: the score recovers (10 points an hour by default), but the cool-down (60 min) is not over.
    const rested = await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: failingId } });
    const since = Math.max(rested.autoPausedAt!.getTime(), rested.lastHealthUpdateAt?.getTime() ?? 0);
    const pump = (t: string, c: string) => requestCampaignPump(t, c);
    await healthMaintenance(pump, new Date(since + 30 * 60_000));
    const halfway = await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: failingId } });
    expect(halfway.healthScore).toBeCloseTo(Math.min(100, rested.healthScore + 5), 5);
    expect(halfway.autoPausedAt).not.toBeNull();

    // Ten hours later it is back: re-admitted gradually, logged in the running campaign, and sending again.
    const readmittedAt = new Date(since + 10 * 3_600_000);
    const result = await healthMaintenance(pump, readmittedAt);
    expect(result.readmitted).toBe(1);
    const back = await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: failingId } });
    expect(back).toMatchObject({ autoPausedAt: null, readmittedAt, consecutiveErrors: 0 });
    expect(back.healthScore).toBeGreaterThanOrEqual(50);
    const resumed = await logsOf(second, 'INSTANCE_RESUMED');
    expect(resumed).toHaveLength(1);
    expect(resumed[0]?.message).toMatch(/re-admitted after its cool-down/);
    await waitFor(async () => sendsTo(stack.sim.sends, later).some((s) => s.instance === failing.name), 20_000);
    const joined = await logsOf(second, 'ROTATION_CHANGED');
    expect(joined.some((l) => (l.details as { added?: Array<{ id: string }> }).added?.some((a) => a.id === failingId))).toBe(true);
    await cancelCampaign(tenantId, second, 'test');
    expectNoDuplicate(sendsTo(stack.sim.sends, later));
  });
});

async function contactIds(tenantId: string, phones: string[]) {
  const rows = await prisma.contact.findMany({ where: { tenantId, phone: { in: phones } }, select: { id: true } });
  return rows.map((r) => r.id);
}
