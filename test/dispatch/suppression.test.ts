import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pauseCampaign, resumeCampaign, startCampaign } from '../../src/features/campaigns/lifecycle.js';
import { campaignPlan } from '../../src/features/campaigns/plan.js';
import { prisma } from '../../src/infra/db/client.js';
import { setClockOffset } from '../../src/infra/lib/clock.js';
import { startWorkers, type WorkerRuntime } from '../../src/workers/runtime.js';
import { graphql } from '../gql/index.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { gqlOk } from '../helpers/graphql.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';
import { campaignRow, expectCountersMatchRecount, insertContacts, logsOf, newCampaign, numbers, statusCounts, uuidOf } from './helpers.js';

// Suppression at the moment of sending: the claim re-checks each contact as it is now, not as it was
// when the campaign froze its audience. Every check reads the simulator's record of calls (accepted or
// refused) and the database.

const SkippedByReason = graphql(`
  query SkippedByReason($id: ID!) {
    node(id: $id) {
      ... on Campaign {
        counters { skipped remaining }
        skippedByReason { reason count }
        messages { usageCount }
      }
    }
  }
`);

const digits = (phone: string) => phone.replace(/\D/g, '');

describe('suppression at send', () => {
  let stack: Stack;
  let workers: WorkerRuntime | null = null;
  /** Calls the simulator received for these phones (sends it accepted and ones it refused). */
  const callsTo = (phones: readonly string[]) => {
    const set = new Set(phones.map(digits));
    return stack.sim.calls.filter((c) => set.has(c.number));
  };
  const recipientOf = (campaignId: string, contactId: string) =>
    prisma.recipient.findUniqueOrThrow({ where: { campaignId_contactId: { campaignId, contactId } } });
  const campaignGlobalId = (id: string) => Buffer.from(`Campaign:${id}`).toString('base64');

  beforeAll(async () => {
    // No workers yet: the first test freezes a campaign before anything can send.
    stack = await startStack({ workers: false, sim: { noReadRate: 1 } });
  });
  afterAll(async () => {
    setClockOffset(0);
    await workers?.close();
    await stack.close();
  });

  it('a contact opted out, blocked, or flagged not-on-WhatsApp by another campaign after the freeze is never called and ends SKIPPED with its reason', async () => {
    const { tenantId, key } = await newTenant('suppression');
    const sender = await addSender(stack, key);
    const phones = numbers(8, 61);
    const ids = await insertContacts(tenantId, phones.map((phone) => ({ phone })));
    const [optedOut, blocked, gone] = ids as [string, string, string];
    const [optedOutPhone, blockedPhone, gonePhone] = phones as [string, string, string];

    // Campaign C freezes all eight, then waits (paused) while the contacts change.
    const c = await newCampaign(tenantId, [uuidOf(sender.instanceId)]);
    expect(await startCampaign(tenantId, c, 'test')).toBe(8);
    await pauseCampaign(tenantId, c, 'test');
    // Flags set behind the freeze's back (no withdrawal of C's recipients): only the claim stands between them and a send.
    await prisma.contact.update({ where: { id: optedOut }, data: { optedOut: true, optedOutAt: new Date() } });
    await prisma.contact.update({ where: { id: blocked }, data: { blocked: true } });
    expect((await statusCounts(c)).QUEUED).toBe(8);

    workers = await startWorkers();
    // Campaign D sends to one number only, which Evolution answers is not on WhatsApp: the contact is flagged.
    stack.sim.configure({ notOnWhatsapp: [digits(gonePhone)] });
    const d = await newCampaign(tenantId, [uuidOf(sender.instanceId)], { audience: { contactIds: [gone] } });
    await startCampaign(tenantId, d, 'test');
    await waitFor(async () => (await campaignRow(d)).status === 'COMPLETED', 30_000);
    expect((await prisma.contact.findUniqueOrThrow({ where: { id: gone } })).notOnWhatsapp).toBe(true);
    expect(callsTo([gonePhone])).toHaveLength(1);

    await resumeCampaign(tenantId, c, 'test');
    await waitFor(async () => (await campaignRow(c)).status === 'COMPLETED', 30_000);

    expect(callsTo([optedOutPhone, blockedPhone])).toEqual([]);
    expect(callsTo([gonePhone]), 'only campaign D called the number').toHaveLength(1);
    expect(callsTo(phones.slice(3))).toHaveLength(5);
    for (const [contactId, reason] of [
      [optedOut, 'OPTED_OUT'],
      [blocked, 'BLOCKED'],
      [gone, 'NOT_ON_WHATSAPP'],
    ] as const) {
      const r = await recipientOf(c, contactId);
      expect(r, reason).toMatchObject({ status: 'SKIPPED', skipReason: reason, attempts: 0, sentAt: null, providerMessageId: null });
    }
    await expectCountersMatchRecount(c);
    const logs = await logsOf(c, 'RECIPIENT_SKIPPED');
    expect(logs.map((l) => (l.details as { reason: string }).reason).sort()).toEqual(['BLOCKED', 'NOT_ON_WHATSAPP', 'OPTED_OUT']);

    const seen = await gqlOk(stack.url, key, SkippedByReason, { id: campaignGlobalId(c) });
    const node = seen.node as {
      counters: { skipped: number; remaining: number };
      skippedByReason: Array<{ reason: string; count: number }>;
      messages: Array<{ usageCount: number }>;
    };
    // The variation was sent to the five others (computed from the recipients: decision 69).
    expect(node.messages).toEqual([{ usageCount: 5 }]);
    expect(node.counters).toEqual({ skipped: 3, remaining: 0 });
    expect(node.skippedByReason.map((s) => s.reason).sort()).toEqual(['BLOCKED', 'NOT_ON_WHATSAPP', 'OPTED_OUT']);
    expect(node.skippedByReason.every((s) => s.count === 1)).toBe(true);
  });

  it('with requireOptIn, a contact without opt-in is never in an audience, and never called if the setting comes after the freeze', async () => {
    workers ??= await startWorkers();
    const { tenantId, key } = await newTenant('opt-in required');
    const sender = await addSender(stack, key);
    const phones = numbers(6, 62);
    const ids = await insertContacts(tenantId, phones.map((phone) => ({ phone })));
    // Three of six opted in (through the API path, which records the consent).
    await prisma.contact.updateMany({ where: { id: { in: ids.slice(0, 3) } }, data: { optedInAt: new Date(), optInSource: 'API' } });

    await prisma.tenant.update({ where: { id: tenantId }, data: { requireOptIn: true } });
    const strict = await newCampaign(tenantId, [uuidOf(sender.instanceId)]);
    expect(await startCampaign(tenantId, strict, 'test'), 'only the opted-in contacts are frozen').toBe(3);
    await waitFor(async () => (await campaignRow(strict)).status === 'COMPLETED', 30_000);
    expect(callsTo(phones.slice(3))).toEqual([]);
    expect(callsTo(phones.slice(0, 3))).toHaveLength(3);

    // Frozen while opt-in was not required, then required: the claim skips the three without it.
    stack.sim.clearSends();
    await prisma.tenant.update({ where: { id: tenantId }, data: { requireOptIn: false } });
    const loose = await newCampaign(tenantId, [uuidOf(sender.instanceId)]);
    expect(await startCampaign(tenantId, loose, 'test')).toBe(6);
    await pauseCampaign(tenantId, loose, 'test');
    const sentBeforePause = stack.sim.calls.length;
    await prisma.tenant.update({ where: { id: tenantId }, data: { requireOptIn: true } });
    await resumeCampaign(tenantId, loose, 'test');
    await waitFor(async () => (await campaignRow(loose)).status === 'COMPLETED', 30_000);
    const recipients = await prisma.recipient.findMany({ where: { campaignId: loose }, select: { contactId: true, status: true, skipReason: true } });
    const withoutOptIn = recipients.filter((r) => ids.slice(3).includes(r.contactId));
    // Whatever went out before the pause was sent while opt-in was not required; everything after it respects it.
    const skipped = withoutOptIn.filter((r) => r.status === 'SKIPPED');
    expect(skipped.every((r) => r.skipReason === 'NO_OPT_IN')).toBe(true);
    expect(callsTo(phones.slice(3))).toHaveLength(withoutOptIn.length - skipped.length);
    expect(callsTo(phones.slice(3)).length).toBeLessThanOrEqual(sentBeforePause);
    await expectCountersMatchRecount(loose);
  });

  it('the frequency cap holds across two concurrent campaigns: each phone is called once; the other is deferred, or skipped when its campaign expires first', async () => {
    workers ??= await startWorkers();
    const { tenantId, key } = await newTenant('frequency cap');
    await prisma.tenant.update({ where: { id: tenantId }, data: { frequencyCapMessages: 1, frequencyCapHours: 24 } });
    const a = await addSender(stack, key);
    const b = await addSender(stack, key);
    const phones = numbers(30, 63);
    const ids = await insertContacts(tenantId, phones.map((phone) => ({ phone })));

    // Two campaigns over the same contacts on two instances, started together: one without expiry, one
    // that expires in an hour (a cap that frees in 24 h frees after it).
    const open = await newCampaign(tenantId, [uuidOf(a.instanceId)]);
    const expiring = await newCampaign(tenantId, [uuidOf(b.instanceId)], { safety: { expireAfterMinutes: 60 } });
    await Promise.all([startCampaign(tenantId, open, 'test'), startCampaign(tenantId, expiring, 'test')]);

    // Every recipient of the expiring campaign ends (sent or skipped); the open one's are sent or wait for the cap.
    await waitFor(async () => (await campaignRow(expiring)).status === 'COMPLETED', 60_000);
    await waitFor(async () => {
      const rows = await prisma.recipient.findMany({ where: { campaignId: open }, select: { status: true, notBefore: true } });
      // A recipient capped by a send still in flight is judged again a few seconds later; by a recorded one, it waits for the period.
      const far = Date.now() + 23 * 3600_000;
      return rows.every((r) => r.status === 'SENT' || r.status === 'DELIVERED' || r.status === 'READ' || (r.status === 'QUEUED' && (r.notBefore?.getTime() ?? 0) > far));
    }, 60_000);

    for (const phone of phones) expect(callsTo([phone]), phone).toHaveLength(1);
    const rows = await prisma.recipient.findMany({ where: { campaignId: { in: [open, expiring] } }, select: { campaignId: true, contactId: true, status: true, skipReason: true, notBefore: true, sentAt: true } });
    const now = Date.now();
    for (const contactId of ids) {
      const mine = rows.filter((r) => r.contactId === contactId);
      const sent = mine.filter((r) => r.sentAt !== null);
      expect(sent, contactId).toHaveLength(1);
      const other = mine.find((r) => r.sentAt === null);
      if (other?.campaignId === expiring) expect(other).toMatchObject({ status: 'SKIPPED', skipReason: 'FREQUENCY_CAP' });
      else {
        // Deferred until the cap frees: 24 h after the send it counts (give or take the run's length).
        expect(other?.status).toBe('QUEUED');
        expect((other?.notBefore?.getTime() ?? 0) - now).toBeGreaterThan(23 * 3600_000);
      }
    }
    const deferred = rows.filter((r) => r.campaignId === open && r.status === 'QUEUED').length;
    expect((await logsOf(open, 'RECIPIENT_DEFERRED')).length).toBeGreaterThanOrEqual(deferred);
    // Waiting for the cap to free, the open campaign is not done.
    expect((await campaignRow(open)).status).toBe(deferred > 0 ? 'RUNNING' : 'COMPLETED');
    await expectCountersMatchRecount(open);
    await expectCountersMatchRecount(expiring);

    // The plan of a third campaign over the same contacts sees every one of them at the cap.
    const third = await newCampaign(tenantId, [uuidOf(a.instanceId)]);
    const plan = await campaignPlan(tenantId, third);
    expect(plan.frequencyCapped).toBe(30);
    expect(plan.warnings.some((w) => w.includes('frequency cap'))).toBe(true);
    if (deferred > 0) await pauseCampaign(tenantId, open, 'test');
  });

  it('a campaign that expires while paused skips what is left instead of sending it late', async () => {
    workers ??= await startWorkers();
    const { tenantId, key } = await newTenant('expiry');
    const sender = await addSender(stack, key, { limitPerMinute: 2 });
    const phones = numbers(10, 64);
    await insertContacts(tenantId, phones.map((phone) => ({ phone })));
    const c = await newCampaign(tenantId, [uuidOf(sender.instanceId)], { safety: { expireAfterMinutes: 5 } });
    await startCampaign(tenantId, c, 'test');
    // Two a minute: the first two go out, then the campaign is paused.
    await waitFor(async () => callsTo(phones).length >= 2, 30_000);
    await pauseCampaign(tenantId, c, 'test');
    const before = callsTo(phones).length;
    expect((await campaignRow(c)).expiresAt).not.toBeNull();

    // Six minutes later (by the dispatch clock), the operator resumes it.
    setClockOffset(6 * 60_000);
    try {
      await resumeCampaign(tenantId, c, 'test');
      await waitFor(async () => (await campaignRow(c)).status === 'COMPLETED', 30_000);
    } finally {
      setClockOffset(0);
    }
    expect(callsTo(phones)).toHaveLength(before);
    const counts = await statusCounts(c);
    expect(counts.SKIPPED).toBe(10 - before);
    const skipped = await prisma.recipient.findMany({ where: { campaignId: c, status: 'SKIPPED' }, select: { skipReason: true } });
    expect(skipped.every((r) => r.skipReason === 'EXPIRED')).toBe(true);
    await expectCountersMatchRecount(c);
    expect((await logsOf(c, 'RECIPIENT_SKIPPED')).some((l) => (l.details as { reason: string }).reason === 'EXPIRED')).toBe(true);
  });

  it('a campaign whose window opens only after its expiry ends at once: nothing is sent late', async () => {
    workers ??= await startWorkers();
    const { tenantId, key } = await newTenant('expiry before window');
    const sender = await addSender(stack, key);
    const phones = numbers(5, 65);
    await insertContacts(tenantId, phones.map((phone) => ({ phone })));
    const tenant = await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId } });
    // Every weekday but today's (tenant time): the window opens tomorrow at the earliest, after the 30-minute expiry.
    const today = new Intl.DateTimeFormat('en-US', { timeZone: tenant.timezone, weekday: 'long' }).format(new Date()).toUpperCase();
    const weekdays = (['MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY', 'SUNDAY'] as const).filter((d) => d !== today);
    const c = await newCampaign(tenantId, [uuidOf(sender.instanceId)], { window: { weekdays }, safety: { expireAfterMinutes: 30 } });
    const plan = await campaignPlan(tenantId, c);
    expect(plan.fits).toBe(false);
    expect(plan.warnings.some((w) => w.includes('expires'))).toBe(true);
    await startCampaign(tenantId, c, 'test');
    await waitFor(async () => (await campaignRow(c)).status === 'COMPLETED', 30_000);
    expect(callsTo(phones)).toEqual([]);
    expect(await statusCounts(c)).toEqual({ SKIPPED: 5 });
    await expectCountersMatchRecount(c);
  });
});
