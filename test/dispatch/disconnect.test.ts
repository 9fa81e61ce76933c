import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { graphql } from '../gql/index.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { gqlOk } from '../helpers/graphql.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';
import { gid } from '../realtime/live.js';
import { campaignRow, expectCountersMatchRecount, expectNoDuplicate, insertContacts, logsOf, newRunningCampaign, numbers, sendsTo, statusCounts, uuidOf } from './helpers.js';

const Disconnected = graphql(`
  query DispatchDisconnected($instance: ID!, $campaign: ID!) {
    instance: node(id: $instance) {
      __typename
      ... on WhatsAppInstance {
        paused
        pauseReason
        disconnectedSince
        connectionState
        health { score consecutiveErrors }
      }
    }
    campaign: node(id: $campaign) {
      __typename
      ... on Campaign {
        status
        waitingForReconnectSince
      }
    }
  }
`);

/**
 * A Baileys number that loses its connection, as the simulator plays a real Evolution 2.3.6: sends answer
 * 500 "Connection Closed", connectionState says close, no `close` webhook, and a `connecting` webhook
 * about twice a second while it retries. `webhooks: false`: an instance Evolution never connected (500
 * "reading 'onWhatsApp'"), which posts nothing at all.
 */
function loseConnection(stack: Stack, name: string, opts: { webhooks: boolean } = { webhooks: true }) {
  const instance = stack.sim.disconnect(name, opts.webhooks ? 'connection-lost' : 'never-connected');
  return {
    /** Connected again: `open` through the webhook, or silently (only connectionState says so). */
    reconnect(how: 'webhook' | 'silent') {
      if (how === 'webhook') stack.sim.setConnectionState(name, 'open');
      else instance.state = 'open';
    },
  };
}

async function view(stack: Stack, key: string, instanceId: string, campaignId: string) {
  const r = await gqlOk(stack.url, key, Disconnected, { instance: instanceId, campaign: gid('Campaign', campaignId) });
  if (r.instance?.__typename !== 'WhatsAppInstance' || r.campaign?.__typename !== 'Campaign') throw new Error('not found');
  return { instance: r.instance, campaign: r.campaign };
}

const causeOf = (l: { details: unknown }) => (l.details as { cause?: string } | null)?.cause;

describe('a number that is not connected pauses; its recipients wait and are sent once it connects, none fails', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ sim: { noReadRate: 1 } });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('two instances, one loses its connection mid-campaign: its share moves to the other, it is paused (DISCONNECTED), and after connection.update open it sends again', async () => {
    const { tenantId, key } = await newTenant('disconnect two');
    const a = await addSender(stack, key, { minDelayMs: 250, maxDelayMs: 250 });
    const b = await addSender(stack, key, { minDelayMs: 250, maxDelayMs: 250 });
    const [aId, bId] = [uuidOf(a.instanceId), uuidOf(b.instanceId)];
    const phones = numbers(40, 301);
    await insertContacts(tenantId, phones.map((phone) => ({ phone })));
    const before = await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: aId } });
    const campaignId = await newRunningCampaign(tenantId, [aId, bId], { pacing: { maxAttempts: 1, errorThreshold: 2 } });
    await waitFor(async () => stack.sim.sends.filter((s) => s.instance === a.name).length >= 2 && (await campaignRow(campaignId)).sentCount >= 4, 30_000);

    const lost = loseConnection(stack, a.name);
    const down = await waitFor(async () => {
      const v = await view(stack, key, a.instanceId, campaignId);
      return v.instance.pauseReason === 'DISCONNECTED' ? v : null;
    }, 20_000);
    expect(down.instance.paused).toBe(true);
    // Evolution answers close or connecting while it retries (and posts connecting webhooks): never open.
    expect(['CLOSE', 'CONNECTING']).toContain(down.instance.connectionState);
    expect(down.instance.disconnectedSince).toBeTruthy();
    expect(down.campaign).toMatchObject({ status: 'RUNNING', waitingForReconnectSince: null });

    // Its share moves to b while a stays down, through the connecting webhooks.
    const sentByB = stack.sim.sends.filter((s) => s.instance === b.name).length;
    await waitFor(async () => stack.sim.sends.filter((s) => s.instance === b.name).length >= sentByB + 6, 30_000);
    expect(await prisma.recipient.count({ where: { campaignId, status: 'FAILED' } })).toBe(0);
    const stillDown = await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: aId } });
    expect(stillDown.disconnectedSince).not.toBeNull();
    // The connecting webhooks (and the polled check's close or connecting) are recorded, and re-admit nothing.
    expect(['CLOSE', 'CONNECTING']).toContain(stillDown.connectionState);
    const callsWhileDown = stack.sim.calls.filter((c) => c.instance === a.name && Date.parse(c.at) > Date.parse(down.instance.disconnectedSince as string) + 1000);
    expect(callsWhileDown).toEqual([]);

    const reconnectedAt = Date.now();
    lost.reconnect('webhook');
    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 60_000);

    // Every recipient sent exactly once; a sent again after the reconnect; nothing failed.
    const sent = sendsTo(stack.sim.sends, phones);
    expect(sent).toHaveLength(40);
    expectNoDuplicate(sent);
    expect(sent.some((s) => s.instance === a.name && Date.parse(s.at) > reconnectedAt)).toBe(true);
    expect(await statusCounts(campaignId)).not.toHaveProperty('FAILED');
    // Put back untouched: no attempt used (maxAttempts 1 would have failed them), no error recorded.
    const rows = await prisma.recipient.findMany({ where: { campaignId } });
    expect(rows.filter((r) => r.attempts !== 1 || r.errorCode !== null)).toEqual([]);

    // Not an error: no health lost, no consecutive errors (errorThreshold 2 would have paused the campaign).
    const after = await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: aId } });
    expect(after).toMatchObject({ healthScore: before.healthScore, consecutiveErrors: 0, disconnectedSince: null, connectionState: 'OPEN' });
    expect(await campaignRow(campaignId)).toMatchObject({ consecutiveErrors: 0, failedCount: 0 });
    expect(await logsOf(campaignId, 'MESSAGE_FAILED')).toHaveLength(0);

    // One pause entry for the disconnection (not one per recipient), one resume.
    const paused = (await logsOf(campaignId, 'INSTANCE_PAUSED')).filter((l) => causeOf(l) === 'disconnected');
    expect(paused).toHaveLength(1);
    expect(paused[0]).toMatchObject({ instanceId: aId, severity: 'WARNING', httpStatus: 500 });
    expect(paused[0]?.message).toMatch(/not connected to WhatsApp.*Connection Closed/);
    const resumed = (await logsOf(campaignId, 'INSTANCE_RESUMED')).filter((l) => causeOf(l) === 'disconnected');
    expect(resumed).toHaveLength(1);
    expect(resumed[0]?.instanceId).toBe(aId);
    const end = await view(stack, key, a.instanceId, campaignId);
    expect(end.instance).toMatchObject({ paused: false, pauseReason: null, disconnectedSince: null });
    await expectCountersMatchRecount(campaignId);
  }, 150_000);

  it('a campaign whose only number is disconnected waits, RUNNING with its recipients queued and saying so, and completes after the reconnect', async () => {
    const { tenantId, key } = await newTenant('disconnect only');
    const a = await addSender(stack, key, { minDelayMs: 200, maxDelayMs: 200 });
    const aId = uuidOf(a.instanceId);
    const phones = numbers(12, 302);
    await insertContacts(tenantId, phones.map((phone) => ({ phone })));
    const campaignId = await newRunningCampaign(tenantId, [aId], { pacing: { maxAttempts: 1, errorThreshold: 1 } });
    await waitFor(async () => (await campaignRow(campaignId)).sentCount >= 2, 30_000);

    const lost = loseConnection(stack, a.name);
    const waiting = await waitFor(async () => {
      const v = await view(stack, key, a.instanceId, campaignId);
      return v.campaign.waitingForReconnectSince ? v : null;
    }, 30_000);
    expect(waiting.instance.pauseReason).toBe('DISCONNECTED');
    // It keeps waiting: still RUNNING a while later, recipients queued, none failed.
    await new Promise((r) => setTimeout(r, 3000));
    const during = await campaignRow(campaignId);
    expect(during).toMatchObject({ status: 'RUNNING', failedCount: 0, consecutiveErrors: 0 });
    const counts = await statusCounts(campaignId);
    expect(counts).not.toHaveProperty('FAILED');
    expect(counts.QUEUED ?? 0).toBeGreaterThan(0);
    const notes = (await logsOf(campaignId, 'STALLED')).filter((l) => causeOf(l) === 'disconnected');
    expect(notes).toHaveLength(1);
    expect(notes[0]?.message).toMatch(/waiting for a disconnected number/);
    expect(await logsOf(campaignId, 'PAUSED')).toHaveLength(0);

    lost.reconnect('webhook');
    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 60_000);
    const sent = sendsTo(stack.sim.sends, phones);
    expect(sent).toHaveLength(12);
    expectNoDuplicate(sent);
    expect(await statusCounts(campaignId)).not.toHaveProperty('FAILED');
    expect((await logsOf(campaignId, 'STALL_ENDED')).filter((l) => causeOf(l) === 'disconnected')).toHaveLength(1);
    expect((await campaignRow(campaignId)).reconnectWaitSince).toBeNull();
    await expectCountersMatchRecount(campaignId);
  }, 150_000);

  it('with no webhook at all, the polled connectionState check re-admits the number once Evolution says open', async () => {
    const { tenantId, key } = await newTenant('disconnect poll');
    const a = await addSender(stack, key, { minDelayMs: 200, maxDelayMs: 200 });
    const aId = uuidOf(a.instanceId);
    const phones = numbers(8, 303);
    await insertContacts(tenantId, phones.map((phone) => ({ phone })));
    const campaignId = await newRunningCampaign(tenantId, [aId], { pacing: { maxAttempts: 1, errorThreshold: 1 } });
    await waitFor(async () => (await campaignRow(campaignId)).sentCount >= 2, 30_000);

    const lost = loseConnection(stack, a.name, { webhooks: false });
    await waitFor(async () => (await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: aId } })).disconnectedSince, 30_000);
    // The check asks Evolution and records what it says while the number stays down.
    await waitFor(async () => (await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: aId } })).connectionState === 'CLOSE', 30_000);
    lost.reconnect('silent');
    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 90_000);

    const sent = sendsTo(stack.sim.sends, phones);
    expect(sent).toHaveLength(8);
    expectNoDuplicate(sent);
    expect(await statusCounts(campaignId)).not.toHaveProperty('FAILED');
    const resumed = (await logsOf(campaignId, 'INSTANCE_RESUMED')).filter((l) => causeOf(l) === 'disconnected');
    expect(resumed).toHaveLength(1);
    expect(resumed[0]).toMatchObject({ actor: 'system' });
    expect((resumed[0]?.details as { via: string }).via).toMatch(/connectionState answered open/);
    expect(await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: aId } })).toMatchObject({ disconnectedSince: null, connectionState: 'OPEN' });
  }, 150_000);
});
