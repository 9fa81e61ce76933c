import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scheduleCampaign, startCampaign, startScheduled } from '../../src/features/campaigns/lifecycle.js';
import { prisma } from '../../src/infra/db/client.js';
import { abAssignment, variantLowerBounds } from '../../src/domain/ab-split.js';
import { getQueue } from '../../src/infra/queues/index.js';
import { requestCampaignPump } from '../../src/infra/queues/pump.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';
import {
  campaignRow,
  expectCountersMatchRecount,
  expectNoDuplicate,
  insertContacts,
  logsOf,
  newCampaign,
  numbers,
  sendsTo,
  statusCounts,
  uuidOf,
} from './helpers.js';

describe('starting a campaign', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ sim: { noReadRate: 1 } });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('splits an A/B test by weight in one statement, exactly as the reference split, and holds out the rest', async () => {
    const { tenantId, key } = await newTenant('AB split');
    const sender = await addSender(stack, key);
    await insertContacts(tenantId, numbers(1000, 10).map((phone) => ({ phone })));
    const campaignId = await newCampaign(tenantId, [uuidOf(sender.instanceId)], {
      messages: [
        { text: 'A: {{primeiro_nome|oi}}', abWeight: 30 },
        { text: 'B: {{primeiro_nome|oi}}', abWeight: 70 },
      ],
      abTest: { enabled: true, testShare: 0.2, minSample: 10 },
    });
    const frozen = await startCampaign(tenantId, campaignId, 'test');
    expect(frozen).toBe(1000);

    const messages = await prisma.campaignMessage.findMany({ where: { campaignId }, orderBy: { order: 'asc' } });
    const bounds = variantLowerBounds(messages.map((m) => m.abWeight));
    const recipients = await prisma.recipient.findMany({ where: { campaignId }, select: { seq: true, status: true, messageId: true, abVariant: true } });
    for (const r of recipients) {
      const expected = abAssignment(r.seq, 0.2, bounds);
      if (expected === null) {
        expect(r).toMatchObject({ status: 'PENDING', messageId: null, abVariant: null });
      } else {
        expect(r.messageId).toBe(messages[expected]?.id);
        expect(r.abVariant).toBe(messages[expected]?.abVariant);
        expect(['QUEUED', 'SENDING', 'SENT', 'DELIVERED', 'READ']).toContain(r.status);
      }
    }
    const byVariant = new Map<string | null, number>();
    for (const r of recipients) byVariant.set(r.abVariant, (byVariant.get(r.abVariant) ?? 0) + 1);
    expect(byVariant.get(null)).toBe(800);
    expect(Math.abs((byVariant.get('A') ?? 0) - 60)).toBeLessThanOrEqual(1);
    expect(Math.abs((byVariant.get('B') ?? 0) - 140)).toBeLessThanOrEqual(1);
    const started = (await logsOf(campaignId, 'STARTED'))[0];
    expect(started?.details).toMatchObject({ abTest: 200, abHoldOut: 800 });
    const c = await campaignRow(campaignId);
    expect(c).toMatchObject({ targetedCount: 1000, remainingCount: 1000 });
  });

  it('with a hold-out waiting for its winner, the test part is sent and the campaign waits (slowly) until the release', async () => {
    const { tenantId, key } = await newTenant('AB hold-out');
    const sender = await addSender(stack, key);
    const phones = numbers(100, 11);
    await insertContacts(tenantId, phones.map((phone) => ({ phone })));
    const campaignId = await newCampaign(tenantId, [uuidOf(sender.instanceId)], {
      messages: [{ text: 'variant A' }, { text: 'variant B' }],
      abTest: { enabled: true, testShare: 0.2, minSample: 10 },
    });
    await startCampaign(tenantId, campaignId, 'test');

    await waitFor(async () => (await statusCounts(campaignId)).PENDING === 80 && sendsTo(stack.sim.sends, phones).length === 20, 20_000);
    await new Promise((r) => setTimeout(r, 3000));
    const waiting = await campaignRow(campaignId);
    expect(waiting.status).toBe('RUNNING'); // not completed while the hold-out waits
    expect(waiting.remainingCount).toBe(80);
    expect(sendsTo(stack.sim.sends, phones)).toHaveLength(20);
    // The pump does not spin: its next run for this campaign is far ahead.
    const delayed = (await getQueue('campaigns').getDelayed()).filter((j) => j.data.campaignId === campaignId);
    expect(delayed.length).toBeGreaterThan(0);
    expect(Math.min(...delayed.map((j) => j.timestamp + (j.opts.delay ?? 0) - Date.now()))).toBeGreaterThan(15_000);

    // The A/B decision (another module) releases the hold-out with the winner and pumps.
    const winner = await prisma.campaignMessage.findFirstOrThrow({ where: { campaignId, order: 1 } });
    await prisma.$executeRaw`
      UPDATE recipient SET status = 'QUEUED', message_id = ${winner.id}::uuid, ab_variant = ${winner.abVariant}, queued_at = now()
      WHERE campaign_id = ${campaignId}::uuid AND status = 'PENDING'`;
    await requestCampaignPump(tenantId, campaignId);
    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 20_000);
    const sends = sendsTo(stack.sim.sends, phones);
    expect(sends).toHaveLength(100);
    expectNoDuplicate(sends);
    expect(sends.filter((s) => s.text === 'variant B').length).toBeGreaterThanOrEqual(80);
    await expectCountersMatchRecount(campaignId);
  });

  it('a recurring campaign creates its next occurrence when it starts, until the series ends', async () => {
    const { tenantId, key } = await newTenant('Recurring');
    const sender = await addSender(stack, key);
    await insertContacts(tenantId, numbers(3, 12).map((phone) => ({ phone })));
    const startAt = new Date(Date.now() + 1500);
    const first = await newCampaign(tenantId, [uuidOf(sender.instanceId)], {
      name: 'Weekly news',
      messages: [{ text: 'news 1' }, { text: 'news 2' }],
      schedule: { startAt, recurrence: 'DAILY', interval: 1, endAfterOccurrences: 2 },
      followUps: [{ afterDays: 2, text: 'did you see it?' }],
    });
    await scheduleCampaign(tenantId, first, 'test', null);
    expect((await campaignRow(first)).status).toBe('SCHEDULED');

    // The delayed BullMQ job starts it; starting creates occurrence 2, one day later.
    await waitFor(async () => (await campaignRow(first)).status !== 'SCHEDULED', 20_000);
    const second = await prisma.campaign.findFirstOrThrow({
      where: { parentCampaignId: first },
      include: { messages: { orderBy: { order: 'asc' } }, instances: true, followUpRules: true },
    });
    expect(second).toMatchObject({ status: 'SCHEDULED', occurrence: 2, name: 'Weekly news', recurrence: 'DAILY', recurrenceEndAfter: 2 });
    expect(second.scheduledAt?.getTime()).toBe(startAt.getTime() + 86_400_000);
    expect(second.messages.map((m) => m.text)).toEqual(['news 1', 'news 2']);
    expect(second.instances.map((i) => i.instanceId)).toEqual([uuidOf(sender.instanceId)]);
    expect(second.followUpRules).toMatchObject([{ step: 1, afterDays: 2, text: 'did you see it?' }]);
    const job = await getQueue('campaigns').getJob(`start-${second.id}-${second.scheduledAt?.getTime()}`);
    expect(job?.data).toMatchObject({ campaignId: second.id, scheduledAt: second.scheduledAt?.toISOString() });
    expect(await job?.isDelayed()).toBe(true);

    // When that job fires, occurrence 2 starts and, being the last, schedules nothing more.
    expect(await startScheduled(tenantId, second.id, second.scheduledAt?.toISOString() as string)).toBe('started');
    expect((await campaignRow(second.id)).status).not.toBe('SCHEDULED');
    expect(await prisma.campaign.count({ where: { parentCampaignId: first } })).toBe(1);
    expect((await logsOf(second.id, 'UPDATED')).some((l) => l.message.includes('last occurrence'))).toBe(true);
    await job?.remove();
  });
});
