import { DateTime } from 'luxon';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setContactFlag } from '../../src/features/contacts/service.js';
import { prisma } from '../../src/infra/db/client.js';
import { createDueFollowUps } from '../../src/features/followups/service.js';
import { clock, setClockOffset } from '../../src/infra/lib/clock.js';
import { requestFollowUpPass } from '../../src/infra/queues/pump.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';
import { campaignRow, insertContacts, logsOf, newRunningCampaign, numbers, sendsTo, uuidOf } from './helpers.js';

const SP = 'America/Sao_Paulo';

/** The first `hour`:00 in São Paulo at or after `atMs`. */
function nextLocal(atMs: number, hour: number): number {
  let t = DateTime.fromMillis(atMs, { zone: SP }).set({ hour, minute: 0, second: 0, millisecond: 0 });
  if (t.toMillis() < atMs) t = t.plus({ days: 1 });
  return t.toMillis();
}

function setProductTime(ms: number) {
  setClockOffset(ms - Date.now());
}

describe('follow-ups', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ sim: { noReadRate: 1 } });
  });
  afterEach(() => setClockOffset(0));
  afterAll(async () => {
    await stack.close();
  });

  it('go to those who did not reply, step by step, in the window, paced, and never after an opt-out', async () => {
    const { tenantId, key } = await newTenant('Follow-ups');
    const sender = await addSender(stack, key, { minDelayMs: 300, maxDelayMs: 300 });
    const phones = numbers(6, 40);
    const [replied, optedOut, ...rest] = phones as [string, string, ...string[]];
    await insertContacts(tenantId, phones.map((phone, i) => ({ phone, name: `Pessoa${i} Silva` })));

    setProductTime(nextLocal(Date.now(), 10)); // 10:00 in São Paulo
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)], {
      window: { startTime: '09:00', endTime: '18:00' },
      followUps: [
        { afterDays: 2, text: 'Lembrete, {{primeiro_nome}}' },
        { afterDays: 3, text: 'Último lembrete' },
      ],
    });
    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 20_000);
    // One contact replied (the replies pipeline sets replied_at).
    await prisma.recipient.updateMany({ where: { campaignId, phone: replied }, data: { repliedAt: new Date() } });
    const lastSent = await prisma.recipient.aggregate({ where: { campaignId }, _max: { sentAt: true } });

    // Two days later, at 20:00: they fall due, but the window is closed, so nothing leaves.
    setProductTime(nextLocal(lastSent._max.sentAt!.getTime() + 2 * 86_400_000, 20));
    expect(await createDueFollowUps(new Date(lastSent._max.sentAt!.getTime() + 2 * 86_400_000 - 60_000))).toBe(0); // a minute early
    expect(await createDueFollowUps(clock.now())).toBe(5);
    await setContactFlag(tenantId, { phones: [optedOut] }, 'optOut', 'test');
    await requestFollowUpPass();
    await new Promise((r) => setTimeout(r, 1500));
    expect(sendsTo(stack.sim.sends, phones).filter((s) => s.text?.startsWith('Lembrete'))).toHaveLength(0);
    const cancelled = await prisma.followUp.findFirstOrThrow({ where: { campaignId, contact: { phone: optedOut } } });
    expect(cancelled).toMatchObject({ status: 'CANCELLED' });
    expect(cancelled.cancelledAt).not.toBeNull();

    // The next morning the pass sends the four that are left, through the instance's pacing.
    setProductTime(nextLocal(clock.ms(), 10));
    await requestFollowUpPass();
    await waitFor(async () => (await prisma.followUp.count({ where: { campaignId, status: 'SENT' } })) === 4, 20_000);
    const firstRound = sendsTo(stack.sim.sends, phones).filter((s) => s.text?.startsWith('Lembrete'));
    expect(firstRound.map((s) => `+${s.number}`).sort()).toEqual([...rest].sort());
    expect(firstRound.every((s) => /^Lembrete, Pessoa\d$/.test(s.text ?? ''))).toBe(true);
    const times = firstRound.map((s) => new Date(s.at).getTime()).sort((a, b) => a - b);
    for (let i = 1; i < times.length; i++) expect((times[i] as number) - (times[i - 1] as number)).toBeGreaterThanOrEqual(250);
    const logs = await logsOf(campaignId, 'FOLLOW_UP_SENT');
    expect(logs).toHaveLength(4);
    expect(logs[0]?.details).toMatchObject({ step: 1 });
    const sent = await prisma.followUp.findMany({ where: { campaignId, status: 'SENT' } });
    expect(sent.every((f) => f.providerMessageId && f.sentAt && f.instanceId === uuidOf(sender.instanceId) && f.error === null)).toBe(true);

    // Step 2, three days after step 1; there is no step 3.
    const step1 = await prisma.followUp.aggregate({ where: { campaignId, status: 'SENT' }, _max: { sentAt: true } });
    setProductTime(nextLocal(step1._max.sentAt!.getTime() + 3 * 86_400_000, 10));
    expect(await createDueFollowUps(clock.now())).toBe(4);
    await requestFollowUpPass();
    await waitFor(async () => (await prisma.followUp.count({ where: { campaignId, status: 'SENT' } })) === 8, 20_000);
    expect(sendsTo(stack.sim.sends, phones).filter((s) => s.text === 'Último lembrete')).toHaveLength(4);
    setProductTime(clock.ms() + 30 * 86_400_000);
    expect(await createDueFollowUps(clock.now())).toBe(0);

    // Nobody got anything twice, and the replied and opted-out contacts got no follow-up.
    const all = sendsTo(stack.sim.sends, phones);
    expect(all.filter((s) => s.number === replied.slice(1) || s.number === optedOut.slice(1))).toHaveLength(2);
    expect(all).toHaveLength(6 + 8);
    expect(new Set(all.map((s) => `${s.number}:${s.text}`)).size).toBe(all.length);
  });

  it('a follow-up whose send times out ends UNKNOWN, is logged, and is never sent again; a scheduled one is cancelled by an opt-out', async () => {
    const { tenantId, key } = await newTenant('Follow-up outcomes');
    const sender = await addSender(stack, key, { minDelayMs: 0, maxDelayMs: 0 });
    const [slow, later] = numbers(2, 41) as [string, string];
    await insertContacts(tenantId, [{ phone: slow }, { phone: later }]);
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)], { followUps: [{ afterDays: 1, text: 'Oi de novo' }] });
    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 20_000);

    const lastSent = await prisma.recipient.aggregate({ where: { campaignId }, _max: { sentAt: true } });
    setProductTime(lastSent._max.sentAt!.getTime() + 86_400_000 + 60_000);
    expect(await createDueFollowUps(clock.now())).toBe(2);
    // One of them already holds a send slot when its contact opts out: it is cancelled, not sent.
    const held = await prisma.followUp.findFirstOrThrow({ where: { campaignId, contact: { phone: later } } });
    await prisma.followUp.update({ where: { id: held.id }, data: { status: 'SCHEDULED', claimToken: 'slot-held-by-a-lost-job', claimedAt: clock.now() } });
    await setContactFlag(tenantId, { phones: [later] }, 'optOut', 'test');
    expect(await prisma.followUp.findUniqueOrThrow({ where: { id: held.id } })).toMatchObject({ status: 'CANCELLED' });

    stack.sim.configure({ hangNumbers: [slow.slice(1)], hangMs: 7000 }); // EVOLUTION_TIMEOUT_MS is 5000 in tests
    await requestFollowUpPass();
    await waitFor(async () => (await prisma.followUp.count({ where: { campaignId, status: 'UNKNOWN' } })) === 1, 20_000);
    const f = await prisma.followUp.findFirstOrThrow({ where: { campaignId, contact: { phone: slow } } });
    expect(f).toMatchObject({ status: 'UNKNOWN', claimToken: null, providerMessageId: null });
    expect(f.error).toMatch(/timed out/);
    const unknown = (await logsOf(campaignId, 'OUTCOME_UNKNOWN')).filter((l) => (l.details as { followUpId?: string } | null)?.followUpId === f.id);
    expect(unknown).toHaveLength(1);
    // Later passes never send it again.
    await requestFollowUpPass();
    await new Promise((r) => setTimeout(r, 2500));
    expect(sendsTo(stack.sim.sends, [slow]).filter((x) => x.text === 'Oi de novo')).toHaveLength(1);
    expect(sendsTo(stack.sim.sends, [later]).filter((x) => x.text === 'Oi de novo')).toHaveLength(0);
    stack.sim.configure({ hangNumbers: [] });
  });
});
