import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startCampaign } from '../../src/features/campaigns/lifecycle.js';
import { prisma } from '../../src/infra/db/client.js';
import { graphql } from '../gql/index.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { gqlOk, wsClient } from '../helpers/graphql.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';
import { gid, live } from '../realtime/live.js';
import { campaignRow, expectCountersMatchRecount, expectNoDuplicate, insertContacts, logsOf, newCampaign, numbers, sendsTo, statusCounts, uuidOf } from './helpers.js';

const Throttled = graphql(`
  query DispatchThrottled($instance: ID!, $campaign: ID!) {
    instance: node(id: $instance) {
      __typename
      ... on WhatsAppInstance {
        throttledUntil
        health { score consecutiveErrors }
      }
    }
    campaign: node(id: $campaign) {
      __typename
      ... on Campaign {
        throttledUntil
      }
    }
  }
`);

const Progress = graphql(`
  subscription DispatchThrottledProgress($campaignId: ID!) {
    campaignProgress(campaignId: $campaignId) {
      status
      throttledUntil
      at
      counters { sent failed remaining }
    }
  }
`);

describe('a throttled send (429, rate-overlimit) defers its instance and is sent later; it is not a failure', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ sim: { noReadRate: 1 } });
  });
  afterEach(() => {
    stack.sim.configure({ throttledSends: {}, throttleAnswer: 'gateway-429', throttleRetryAfterS: null });
  });
  afterAll(async () => {
    await stack.close();
  });

  /**
   * A campaign of `phones` on one instance whose first `refused` sends are throttled as `answer` says:
   * what the simulator, the database, GraphQL (query and progress subscription) saw.
   */
  async function run(name: string, seed: number, n: number, throttle: { refused: number; answer: 'gateway-429' | 'rate-overlimit'; retryAfterS: number | null }) {
    const { tenantId, key } = await newTenant(name);
    const sender = await addSender(stack, key);
    const instanceId = uuidOf(sender.instanceId);
    const phones = numbers(n, seed);
    await insertContacts(tenantId, phones.map((phone) => ({ phone })));
    const before = await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: instanceId } });
    stack.sim.configure({ throttledSends: { [sender.name]: throttle.refused }, throttleAnswer: throttle.answer, throttleRetryAfterS: throttle.retryAfterS });
    const campaignId = await newCampaign(tenantId, [instanceId], { pacing: { maxAttempts: 1, errorThreshold: 1 } });

    const ws = wsClient(stack.url, key);
    const progress = live(ws, Progress, { campaignId: gid('Campaign', campaignId) });
    await progress.until((e) => e.length >= 1);
    await startCampaign(tenantId, campaignId, 'test');

    // While deferred, GraphQL shows it on the instance and the campaign.
    const seen = await waitFor(
      async () => {
        const r = await gqlOk(stack.url, key, Throttled, { instance: sender.instanceId, campaign: gid('Campaign', campaignId) });
        const i = r.instance?.__typename === 'WhatsAppInstance' ? r.instance : null;
        const c = r.campaign?.__typename === 'Campaign' ? r.campaign : null;
        return i?.throttledUntil && c?.throttledUntil ? { instance: i, campaign: c } : null;
      },
      20_000,
      25,
    );
    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 60_000);
    await progress.until((e) => e.at(-1)?.campaignProgress.status === 'COMPLETED');
    await progress.stop();
    await ws.client.dispose();
    const after = await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: instanceId } });
    return { tenantId, sender, instanceId, phones, campaignId, before, after, seen, events: progress.events.map((e) => e.campaignProgress) };
  }

  it('a gateway 429 with Retry-After: the recipient waits that long and is sent then; health, errors and attempts unchanged', async () => {
    const r = await run('429', 81, 3, { refused: 1, answer: 'gateway-429', retryAfterS: 3 });

    // The simulator refused one send with 429 and accepted every recipient once, the refused one ≥ 3 s later.
    expect(stack.sim.throttled.filter((t) => t.instance === r.sender.name)).toHaveLength(1);
    const [refused] = stack.sim.throttled.filter((t) => t.instance === r.sender.name);
    expect(refused?.status).toBe(429);
    const sent = sendsTo(stack.sim.sends, r.phones);
    expect(sent).toHaveLength(3);
    expectNoDuplicate(sent);
    const later = sent.find((s) => s.number === refused?.number);
    expect(Date.parse(later!.at) - Date.parse(refused!.at)).toBeGreaterThanOrEqual(2900);

    // No recipient failed; the deferred one used no attempt (maxAttempts 1 would have failed it).
    expect(await statusCounts(r.campaignId)).not.toHaveProperty('FAILED');
    const deferred = await prisma.recipient.findFirstOrThrow({ where: { campaignId: r.campaignId, phone: `+${refused!.number}` } });
    expect(deferred.attempts).toBe(1);
    expect(deferred.sentAt).not.toBeNull();
    // Health and error counts unchanged (errorThreshold 1 would have paused the campaign on one error).
    expect(r.after.healthScore).toBe(r.before.healthScore);
    expect(r.after.consecutiveErrors).toBe(0);
    expect(r.seen.instance.health.score).toBe(r.before.healthScore);
    const campaign = await campaignRow(r.campaignId);
    expect(campaign).toMatchObject({ status: 'COMPLETED', consecutiveErrors: 0, failedCount: 0 });
    expect(await logsOf(r.campaignId, 'MESSAGE_FAILED')).toHaveLength(0);

    // The log says so, once.
    const notes = (await logsOf(r.campaignId, 'LIMIT_REACHED')).filter((l) => (l.details as { cause?: string } | null)?.cause === 'throttled');
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ httpStatus: 429, severity: 'WARNING', instanceId: r.instanceId });
    expect(notes[0]?.message).toMatch(/throttled \(429\).*not a failure/);
    expect((notes[0]?.details as { retryAfterMs: number }).retryAfterMs).toBe(3000);

    // Progress (subscription) showed the deferral while it held, and it ended.
    const until = r.events.find((e) => e.throttledUntil)?.throttledUntil;
    expect(until).toBeTruthy();
    expect(Date.parse(until as string) - Date.parse(refused!.at)).toBeGreaterThanOrEqual(2900);
    expect(r.events.at(-1)?.throttledUntil).toBeNull();
    await expectCountersMatchRecount(r.campaignId);
  });

  it("WhatsApp's rate-overlimit (a 400 from Evolution): deferred with exponential backoff, 2 s then 4 s, then sent; never failed", async () => {
    const r = await run('rate-overlimit', 82, 1, { refused: 2, answer: 'rate-overlimit', retryAfterS: null });

    const refused = stack.sim.throttled.filter((t) => t.instance === r.sender.name);
    expect(refused.map((t) => t.status)).toEqual([400, 400]);
    const sent = sendsTo(stack.sim.sends, r.phones);
    expect(sent).toHaveLength(1);
    const gaps = [Date.parse(refused[1]!.at) - Date.parse(refused[0]!.at), Date.parse(sent[0]!.at) - Date.parse(refused[1]!.at)];
    expect(gaps[0]).toBeGreaterThanOrEqual(1900);
    expect(gaps[1]).toBeGreaterThanOrEqual(3900);

    const recipient = await prisma.recipient.findFirstOrThrow({ where: { campaignId: r.campaignId } });
    expect(recipient).toMatchObject({ attempts: 1, errorCode: null });
    expect(['SENT', 'DELIVERED']).toContain(recipient.status);
    expect(r.after.healthScore).toBe(r.before.healthScore);
    expect(r.after.throttleStreak).toBe(2);
    expect(await campaignRow(r.campaignId)).toMatchObject({ consecutiveErrors: 0, failedCount: 0 });
    const notes = (await logsOf(r.campaignId, 'LIMIT_REACHED')).filter((l) => (l.details as { cause?: string } | null)?.cause === 'throttled');
    expect(notes.map((l) => [l.httpStatus, (l.details as { deferral: number }).deferral])).toEqual([
      [400, 1],
      [400, 2],
    ]);
    expect(notes[0]?.message).toMatch(/rate-overlimit/);
    expect(r.events.some((e) => e.throttledUntil)).toBe(true);
    await expectCountersMatchRecount(r.campaignId);
  });

  it('the backoff starts over after a send is accepted', async () => {
    // Two refusals with a success between them: each is the first deferral since the last success.
    const r = await run('backoff reset', 83, 2, { refused: 1, answer: 'rate-overlimit', retryAfterS: null });
    expect(r.after.throttleStreak).toBe(1);
    stack.sim.configure({ throttledSends: { [r.sender.name]: 1 }, throttleAnswer: 'rate-overlimit' });
    const phones = numbers(1, 84);
    await insertContacts(r.tenantId, phones.map((phone) => ({ phone })));
    const second = await newCampaign(r.tenantId, [r.instanceId], { audience: { contactIds: (await prisma.contact.findMany({ where: { tenantId: r.tenantId, phone: phones[0] } })).map((c) => c.id) } });
    await startCampaign(r.tenantId, second, 'test');
    await waitFor(async () => (await campaignRow(second)).status === 'COMPLETED', 30_000);
    const instance = await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: r.instanceId } });
    expect(instance.throttleStreak).toBe(1);
    const note = (await logsOf(second, 'LIMIT_REACHED'))[0];
    expect((note?.details as { deferral: number }).deferral).toBe(1);
    expect(sendsTo(stack.sim.sends, phones)).toHaveLength(1);
  });
});
