import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resumeCampaign } from '../../src/features/campaigns/lifecycle.js';
import { prisma } from '../../src/infra/db/client.js';
import { resumeInstance } from '../../src/features/senders/service.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { SIM_API_KEY, type Stack, startStack, waitFor } from '../helpers/stack.js';
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

const digits = (phone: string) => phone.replace(/\D/g, '');

/** Points the instance's webhook at us for every event we use but `event`. */
async function webhookWithout(sender: { name: string; webhookUrl: string }, event: string) {
  const events = ['MESSAGES_UPDATE', 'SEND_MESSAGE', 'CONNECTION_UPDATE'].filter((e) => e !== event);
  const set = await fetch(`${simUrl()}/webhook/set/${sender.name}`, {
    method: 'POST',
    headers: { apikey: SIM_API_KEY, 'content-type': 'application/json' },
    body: JSON.stringify({ webhook: { enabled: true, url: sender.webhookUrl, events } }),
  });
  expect(set.status).toBe(201);
}
let simUrl: () => string = () => {
  throw new Error('no simulator yet');
};

describe('the error policy of a send, against the simulator', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ sim: { noReadRate: 1 } });
    simUrl = () => stack.sim.url;
  });
  afterEach(() => {
    stack.sim.configure({ serverErrors: {}, hangNumbers: [], lostNumbers: [], unauthorizedInstances: [], notOnWhatsapp: [], instanceFailureRates: {} });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('a 5xx that did not send is retried with backoff, and the message leaves once', async () => {
    const { tenantId, key } = await newTenant('5xx retry');
    const sender = await addSender(stack, key);
    const [phone] = numbers(1, 20) as [string];
    await insertContacts(tenantId, [{ phone }]);
    stack.sim.configure({ serverErrors: { [digits(phone)]: 2 } });
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)], { pacing: { maxAttempts: 3 } });

    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 30_000);
    const r = await prisma.recipient.findFirstOrThrow({ where: { campaignId } });
    expect(r).toMatchObject({ attempts: 3, errorCode: null });
    expect(['SENT', 'DELIVERED']).toContain(r.status); // its receipt may have arrived already
    expect(r.sentAt).not.toBeNull();
    expect(sendsTo(stack.sim.sends, [phone])).toHaveLength(1);
    const retries = await logsOf(campaignId, 'ERROR');
    expect(retries.map((l) => l.httpStatus)).toEqual([500, 500]);
    expect(retries[0]?.message).toMatch(/attempt 1 of 3, retrying at/);
    // Exponential backoff: the second wait is longer than the first.
    const sentLog = (await logsOf(campaignId, 'MESSAGE_SENT'))[0];
    const gaps = [retries[1]!.createdAt.getTime() - retries[0]!.createdAt.getTime(), sentLog!.createdAt.getTime() - retries[1]!.createdAt.getTime()];
    expect(gaps[0]).toBeGreaterThanOrEqual(1900);
    expect(gaps[1]).toBeGreaterThanOrEqual(3900);
    await expectCountersMatchRecount(campaignId);
  });

  it('a 5xx on every attempt fails the recipient after the configured attempts, without any send', async () => {
    const { tenantId, key } = await newTenant('5xx give up');
    const sender = await addSender(stack, key);
    const [phone] = numbers(1, 21) as [string];
    await insertContacts(tenantId, [{ phone }]);
    stack.sim.configure({ serverErrors: { [digits(phone)]: 10 } });
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)], { pacing: { maxAttempts: 2 } });

    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 30_000);
    expect(await prisma.recipient.findFirstOrThrow({ where: { campaignId } })).toMatchObject({ status: 'FAILED', errorCode: 'UNAVAILABLE', attempts: 2 });
    expect(sendsTo(stack.sim.sends, [phone])).toHaveLength(0);
    expect(stack.sim.behaviour.serverErrors[digits(phone)]).toBe(8);
    await expectCountersMatchRecount(campaignId);
  });

  it('400 exists:false fails at once, flags the contact, and costs the instance no health', async () => {
    const { tenantId, key } = await newTenant('Not on WhatsApp');
    const sender = await addSender(stack, key);
    const [gone, fine] = numbers(2, 22) as [string, string];
    await insertContacts(tenantId, [{ phone: gone }, { phone: fine }]);
    stack.sim.configure({ notOnWhatsapp: [digits(gone)] });
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)]);

    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 20_000);
    const r = await prisma.recipient.findFirstOrThrow({ where: { campaignId, phone: gone }, include: { contact: true } });
    expect(r).toMatchObject({ status: 'FAILED', errorCode: 'NOT_ON_WHATSAPP', attempts: 1 });
    expect(r.contact.notOnWhatsapp).toBe(true);
    const failed = await logsOf(campaignId, 'MESSAGE_FAILED');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ httpStatus: 400, recipientId: r.id });
    const instance = await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: uuidOf(sender.instanceId) } });
    expect(instance.healthScore).toBeGreaterThanOrEqual(100);
    expect(sendsTo(stack.sim.sends, [fine])).toHaveLength(1);
    await expectCountersMatchRecount(campaignId);
  });

  it('a send that times out after leaving, proved by its send.message webhook, is SENT and never sent again', async () => {
    const { tenantId, key } = await newTenant('Timeout proved');
    const sender = await addSender(stack, key);
    const [slow, fine] = numbers(2, 23) as [string, string];
    await insertContacts(tenantId, [{ phone: slow }, { phone: fine }]);
    stack.sim.configure({ hangNumbers: [digits(slow)], hangMs: 7000 }); // EVOLUTION_TIMEOUT_MS is 5000 in tests
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)], { pacing: { maxAttempts: 5 } });

    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 30_000);
    const sent = sendsTo(stack.sim.sends, [slow]);
    expect(sent).toHaveLength(1);
    // Evolution sent send.message before its (late) answer: the send is known to have left.
    await waitFor(async () => (await prisma.recipient.findFirstOrThrow({ where: { campaignId, phone: slow } })).deliveredAt !== null, 10_000);
    const r = await prisma.recipient.findFirstOrThrow({ where: { campaignId, phone: slow } });
    expect(r).toMatchObject({ providerMessageId: sent[0]?.keyId, attempts: 1, errorCode: null });
    expect(['DELIVERED', 'READ']).toContain(r.status);
    const confirmed = await logsOf(campaignId, 'MESSAGE_SENT');
    expect(confirmed.find((l) => l.recipientId === r.id)?.message).toMatch(/answer was lost .*timed out.*confirmed it left/);
    expect(await logsOf(campaignId, 'OUTCOME_UNKNOWN')).toHaveLength(0);
    expect((await campaignRow(campaignId)).unknownCount).toBe(0);
    await new Promise((res) => setTimeout(res, 3000));
    expect(sendsTo(stack.sim.sends, [slow])).toHaveLength(1);
    await expectCountersMatchRecount(campaignId);
  });

  it("a send that times out with no proof that it left is UNKNOWN until Evolution's message store shows it left: then SENT, never sent again", async () => {
    const { tenantId, key } = await newTenant('Timeout');
    const sender = await addSender(stack, key);
    // This instance's webhook does not carry SEND_MESSAGE: no webhook proves the send left.
    await webhookWithout(sender, 'SEND_MESSAGE');
    const [slow, fine] = numbers(2, 27) as [string, string];
    await insertContacts(tenantId, [{ phone: slow }, { phone: fine }]);
    stack.sim.configure({ hangNumbers: [digits(slow)], hangMs: 7000 }); // EVOLUTION_TIMEOUT_MS is 5000 in tests
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)], { pacing: { maxAttempts: 5 } });

    // The campaign completes only once the unknown outcome is resolved.
    await waitFor(async () => (await logsOf(campaignId, 'OUTCOME_UNKNOWN')).length === 1, 30_000);
    expect((await campaignRow(campaignId)).status).toBe('RUNNING');
    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 45_000);
    const sent = sendsTo(stack.sim.sends, [slow]);
    expect(sent).toHaveLength(1);
    const r = await prisma.recipient.findFirstOrThrow({ where: { campaignId, phone: slow } });
    expect(r).toMatchObject({ providerMessageId: sent[0]?.keyId, attempts: 1, errorCode: null, reconcileAt: null });
    expect(['SENT', 'DELIVERED']).toContain(r.status); // its receipts were parked while it was unknown, and applied
    const unknown = await logsOf(campaignId, 'OUTCOME_UNKNOWN');
    expect(unknown[0]?.message).toMatch(/timed out/);
    const reconciled = await logsOf(campaignId, 'OUTCOME_RECONCILED');
    expect(reconciled).toHaveLength(1);
    expect(reconciled[0]?.details).toMatchObject({ decision: 'SENT', keyId: sent[0]?.keyId });
    expect((r.evidence as { lookups: Array<{ result: string }> }).lookups.at(-1)?.result).toBe('FOUND');
    expect((await campaignRow(campaignId)).unknownCount).toBe(0);
    await new Promise((res) => setTimeout(res, 2000));
    expect(sendsTo(stack.sim.sends, [slow])).toHaveLength(1);
    await expectCountersMatchRecount(campaignId);
  });

  it('a send lost before Evolution processed it is shown missing by the message store, queued again and sent once', async () => {
    const { tenantId, key } = await newTenant('Lost send');
    const sender = await addSender(stack, key);
    await webhookWithout(sender, 'SEND_MESSAGE');
    const [lost, fine] = numbers(2, 28) as [string, string];
    await insertContacts(tenantId, [{ phone: lost }, { phone: fine }]);
    // The request reaches the simulator and is dropped unprocessed after the caller gave up.
    stack.sim.configure({ lostNumbers: [digits(lost)], hangMs: 6000 });
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)], { pacing: { maxAttempts: 5 } });
    await waitFor(async () => (await prisma.recipient.findFirstOrThrow({ where: { campaignId, phone: lost } })).status === 'UNKNOWN', 30_000);
    stack.sim.configure({ lostNumbers: [] });

    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 90_000);
    const sent = sendsTo(stack.sim.sends, [lost]);
    expect(sent).toHaveLength(1);
    const r = await prisma.recipient.findFirstOrThrow({ where: { campaignId, phone: lost } });
    expect(r).toMatchObject({ providerMessageId: sent[0]?.keyId, attempts: 2 });
    expect(['SENT', 'DELIVERED']).toContain(r.status);
    const reconciled = await logsOf(campaignId, 'OUTCOME_RECONCILED');
    expect(reconciled.map((l) => (l.details as { decision: string }).decision)).toEqual(['NOT_SENT']);
    const lookups = (reconciled[0]?.details as { evidence: { lookups: Array<{ result: string; control?: string }> } }).evidence.lookups;
    // Missing twice, each time with a message of ours found the same way (the store works).
    expect(lookups.filter((l) => l.result === 'NOT_FOUND' && l.control === 'FOUND').length).toBeGreaterThanOrEqual(2);
    await expectCountersMatchRecount(campaignId);
  }, 120_000);

  it('401 pauses the instance and puts the recipient back; with no instance left the campaign pauses and says why', async () => {
    const { tenantId, key } = await newTenant('401');
    const sender = await addSender(stack, key);
    const phones = numbers(5, 24);
    await insertContacts(tenantId, phones.map((phone) => ({ phone })));
    stack.sim.configure({ unauthorizedInstances: [sender.name] });
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)]);

    await waitFor(async () => (await campaignRow(campaignId)).status === 'PAUSED', 20_000);
    const instance = await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: uuidOf(sender.instanceId) } });
    expect(instance.manuallyPaused).toBe(true);
    expect(instance.pausedReason).toMatch(/401/);
    expect(await statusCounts(campaignId)).toEqual({ QUEUED: 5 });
    expect(await prisma.recipient.count({ where: { campaignId, attempts: { gt: 0 } } })).toBe(0);
    expect(await logsOf(campaignId, 'INSTANCE_PAUSED')).toHaveLength(1);
    const paused = (await logsOf(campaignId, 'PAUSED'))[0];
    expect(paused?.message).toBe('campaign paused automatically: no instance of the campaign can send');
    expect(paused?.details).toMatchObject({ instances: [{ name: sender.name, reason: expect.stringMatching(/^paused: .*401/) }] });
    expect(sendsTo(stack.sim.sends, phones)).toHaveLength(0);

    // The key is fixed: resume the instance and the campaign; everyone gets the message once.
    stack.sim.configure({ unauthorizedInstances: [] });
    await resumeInstance(tenantId, uuidOf(sender.instanceId), 'test');
    await resumeCampaign(tenantId, campaignId, 'test');
    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 20_000);
    expect(sendsTo(stack.sim.sends, phones)).toHaveLength(5);
    expectNoDuplicate(sendsTo(stack.sim.sends, phones));
    await expectCountersMatchRecount(campaignId);
  });

  it("404 (instance gone from Evolution) pauses it; its share moves to the other instance and the change is logged", async () => {
    const { tenantId, key } = await newTenant('404');
    const gone = await addSender(stack, key, { minDelayMs: 50, maxDelayMs: 50 });
    const other = await addSender(stack, key, { minDelayMs: 50, maxDelayMs: 50 });
    const phones = numbers(20, 25);
    await insertContacts(tenantId, phones.map((phone) => ({ phone })));
    const res = await fetch(`${stack.sim.url}/instance/delete/${gone.name}`, { method: 'DELETE', headers: { apikey: 'test-sim-global-key' } });
    expect(res.status).toBe(200);
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(gone.instanceId), uuidOf(other.instanceId)], { rotationMode: 'ROUND_ROBIN' });

    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 30_000);
    const sends = sendsTo(stack.sim.sends, phones);
    expect(sends).toHaveLength(20);
    expectNoDuplicate(sends);
    expect(new Set(sends.map((s) => s.instance))).toEqual(new Set([other.name]));
    const instance = await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: uuidOf(gone.instanceId) } });
    expect(instance).toMatchObject({ manuallyPaused: true });
    expect(instance.pausedReason).toMatch(/does not know instance/);
    const changed = await logsOf(campaignId, 'ROTATION_CHANGED');
    expect(changed.length).toBeGreaterThanOrEqual(1);
    expect(changed[0]?.details).toMatchObject({ removed: [{ name: gone.name, reason: expect.stringMatching(/404/) }] });
    const selected = await logsOf(campaignId, 'INSTANCE_SELECTED');
    expect(new Set(selected.map((l) => l.instanceId))).toEqual(new Set([uuidOf(gone.instanceId), uuidOf(other.instanceId)]));
    await expectCountersMatchRecount(campaignId);
  });

  it('pauses the campaign after the configured number of consecutive errors', async () => {
    const { tenantId, key } = await newTenant('Error threshold');
    const sender = await addSender(stack, key, { minDelayMs: 100, maxDelayMs: 100 });
    const phones = numbers(12, 26);
    await insertContacts(tenantId, phones.map((phone) => ({ phone })));
    stack.sim.configure({ serverErrors: Object.fromEntries(phones.map((p) => [digits(p), 5])) });
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)], { pacing: { maxAttempts: 1, errorThreshold: 3 } });

    await waitFor(async () => (await campaignRow(campaignId)).status === 'PAUSED', 20_000);
    // The automatic pause happens inside a send and does not wait: sends waiting at the pace gate
    // meanwhile find the campaign paused and put their recipients back.
    await waitFor(async () => (await statusCounts(campaignId)).SENDING === undefined, 20_000);
    const c = await campaignRow(campaignId);
    expect(c.pauseReason).toMatch(/^\d+ consecutive send errors \(threshold 3\)$/);
    expect(c.failedCount).toBeGreaterThanOrEqual(3);
    expect(c.failedCount).toBeLessThan(12);
    expect((await statusCounts(campaignId)).QUEUED).toBe(12 - c.failedCount);
    expect(sendsTo(stack.sim.sends, phones)).toHaveLength(0);
    await expectCountersMatchRecount(campaignId);
  });
});
