import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { clock, setClockOffset } from '../../src/infra/lib/clock.js';
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
  statusCounts,
  uuidOf,
} from './helpers.js';

/** Moves the product's clock so that "now" is `iso`; returns the real instant of the move. */
function setNow(iso: string): number {
  const real = Date.now();
  setClockOffset(new Date(iso).getTime() - real);
  return real;
}

const businessHours = { startTime: '09:00', endTime: '18:00' };

describe('sending windows, end to end with a controllable clock', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ sim: { noReadRate: 1 } });
  });
  afterEach(() => setClockOffset(0));
  afterAll(async () => {
    await stack.close();
  });

  it('defers the sends left when the window closes and resumes them at the next opening, each once', async () => {
    const { tenantId, key } = await newTenant('Window close');
    const sender = await addSender(stack, key, { minDelayMs: 400, maxDelayMs: 400 });
    const phones = numbers(30, 1);
    await insertContacts(tenantId, phones.map((phone) => ({ phone })));

    // Monday 2026-06-01 17:59:54 in São Paulo (UTC−3): six seconds before the window closes.
    const firstMove = setNow('2026-06-01T20:59:54Z');
    const offsetBefore = clock.ms() - Date.now();
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)], { window: businessHours });

    await waitFor(async () => (await campaignRow(campaignId)).resumesAt, 20_000);
    const closed = await campaignRow(campaignId);
    expect(closed.status).toBe('RUNNING');
    expect(closed.resumesAt?.toISOString()).toBe('2026-06-02T12:00:00.000Z'); // Tuesday 09:00 local
    const sentBefore = sendsTo(stack.sim.sends, phones).length;
    expect(sentBefore).toBeGreaterThan(0);
    expect(sentBefore).toBeLessThan(30);

    // While closed, nothing more leaves, and nothing is dropped: the rest is still queued.
    await new Promise((r) => setTimeout(r, 2500));
    expect(sendsTo(stack.sim.sends, phones)).toHaveLength(sentBefore);
    expect(await statusCounts(campaignId)).toMatchObject({ QUEUED: 30 - sentBefore });
    expect(await logsOf(campaignId, 'WINDOW_CLOSED')).toHaveLength(1);

    // Tuesday 08:59:58: the watchdog pumps, the window opens two seconds later.
    const secondMove = setNow('2026-06-02T11:59:58Z');
    const offsetAfter = clock.ms() - Date.now();
    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 40_000);

    const sends = sendsTo(stack.sim.sends, phones);
    expect(sends).toHaveLength(30);
    expectNoDuplicate(sends);
    // Every send happened inside the window, by the product's clock.
    for (const s of sends) {
      const real = new Date(s.at).getTime();
      const productTime = real + (real < secondMove ? offsetBefore : offsetAfter);
      expect(real).toBeGreaterThan(firstMove - 1);
      if (real < secondMove) expect(productTime).toBeLessThan(new Date('2026-06-01T21:00:00Z').getTime());
      else expect(productTime).toBeGreaterThanOrEqual(new Date('2026-06-02T12:00:00Z').getTime());
    }
    const opened = await logsOf(campaignId, 'WINDOW_OPENED');
    expect(opened).toHaveLength(1);
    expect((await logsOf(campaignId, 'WINDOW_CLOSED'))[0]?.id).toBeLessThan(opened[0]?.id as bigint);
    expect((await campaignRow(campaignId)).resumesAt).toBeNull();
    await expectCountersMatchRecount(campaignId);
  });

  it("in each contact's zone: sends where the window is open, then waits for the other zone's opening", async () => {
    const { tenantId, key } = await newTenant('Window zones');
    const sender = await addSender(stack, key);
    const local = numbers(10, 2);
    const tokyo = numbers(10, 3);
    await insertContacts(tenantId, [...local.map((phone) => ({ phone })), ...tokyo.map((phone) => ({ phone, timezone: 'Asia/Tokyo' }))]);

    // Monday 10:00 in São Paulo is 22:00 in Tokyo.
    setNow('2026-06-01T13:00:00Z');
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)], {
      window: { ...businessHours, timezoneMode: 'CONTACT' },
    });
    const zones = await prisma.recipient.groupBy({ by: ['timezone'], where: { campaignId }, _count: true });
    expect(Object.fromEntries(zones.map((z) => [z.timezone, z._count]))).toEqual({ 'America/Sao_Paulo': 10, 'Asia/Tokyo': 10 });

    await waitFor(async () => (await campaignRow(campaignId)).resumesAt, 20_000);
    expect(sendsTo(stack.sim.sends, local)).toHaveLength(10);
    expect(sendsTo(stack.sim.sends, tokyo)).toHaveLength(0);
    expect((await campaignRow(campaignId)).resumesAt?.toISOString()).toBe('2026-06-02T00:00:00.000Z'); // Tuesday 09:00 in Tokyo

    // Tuesday 09:00 in Tokyo is Monday 21:00 in São Paulo: only Tokyo's window is open.
    setNow('2026-06-02T00:00:01Z');
    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 40_000);
    expect(sendsTo(stack.sim.sends, tokyo)).toHaveLength(10);
    expectNoDuplicate(sendsTo(stack.sim.sends, [...local, ...tokyo]));
    expect(await logsOf(campaignId, 'WINDOW_OPENED')).toHaveLength(1);
    await expectCountersMatchRecount(campaignId);
  });

  it("holidays close the window all day; in the tenant's zone a contact's own zone is ignored", async () => {
    const { tenantId, key } = await newTenant('Window holiday');
    await prisma.holiday.create({ data: { tenantId, date: new Date('2020-06-01T00:00:00Z'), name: 'Founders day', yearly: true } });
    const sender = await addSender(stack, key);
    const phones = numbers(5, 4);
    await insertContacts(tenantId, phones.map((phone) => ({ phone, timezone: 'Asia/Tokyo' })));

    setNow('2026-06-01T13:00:00Z'); // Monday 10:00 local, the tenant's yearly holiday
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)], {
      window: { ...businessHours, respectHolidays: true },
    });
    expect(await prisma.recipient.count({ where: { campaignId, timezone: 'America/Sao_Paulo' } })).toBe(5);
    await waitFor(async () => (await campaignRow(campaignId)).resumesAt, 20_000);
    expect((await campaignRow(campaignId)).resumesAt?.toISOString()).toBe('2026-06-02T12:00:00.000Z');
    const [closed] = await logsOf(campaignId, 'WINDOW_CLOSED');
    expect(closed?.message).toContain('2026-06-02T12:00:00.000Z');
    expect(sendsTo(stack.sim.sends, phones)).toHaveLength(0);
    expect(await statusCounts(campaignId)).toEqual({ QUEUED: 5 });
  });
});
