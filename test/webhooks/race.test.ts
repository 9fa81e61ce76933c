import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCampaign } from '../../src/features/campaigns/lifecycle.js';
import { createCampaign } from '../../src/features/campaigns/service.js';
import { prisma } from '../../src/infra/db/client.js';
import { registerEvolutionServer, registerInstance, webhookUrl } from '../../src/features/senders/service.js';
import { SIM_API_KEY, type Stack, startStack, waitFor } from '../helpers/stack.js';
import { countersAndRecount, instanceAndRecount, seedCampaign, uniquePhones, webhooksIdle } from './fixtures.js';
import { tenantWithInstance } from './senders.js';

/**
 * A plain HTTP relay in front of the simulator that holds every send's response after the simulator
 * answered, until a receipt for that message has been parked (at most `holdMs`): the network is slow
 * on the way back, so Evolution's webhooks (sent at once, as the real one does) reach us before the
 * send's result does, however loaded the machine is.
 */
async function slowResponses(target: string, holdMs: number): Promise<{ url: string; server: Server }> {
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
    const upstream = await fetch(`${target}${req.url}`, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
    const body = Buffer.from(await upstream.arrayBuffer());
    if (req.url?.startsWith('/message/')) {
      const keyId = (JSON.parse(body.toString('utf8')) as { key?: { id?: string } }).key?.id;
      await waitFor(async () => !keyId || (await prisma.pendingReceipt.count({ where: { keyId } })) > 0, holdMs, 20).catch(() => undefined);
    }
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

let stack: Stack;
let relay: { url: string; server: Server };
beforeAll(async () => {
  stack = await startStack({ sim: { ackDelayMs: 5, deliveryDelayMs: 10, readDelayMs: 15, noReadRate: 0.3, failureRate: 0.2, seed: 5 } });
  relay = await slowResponses(stack.sim.url, 3000); // below EVOLUTION_TIMEOUT_MS (5000 in tests)
});
afterAll(async () => {
  await new Promise((r) => relay.server.close(r));
  await stack.close();
});

describe('receipts that overtake the send result', () => {
  it('are parked and applied when the send is stored: every recipient ends as WhatsApp reported', async () => {
    const { tenantId, instanceId: unused } = await tenantWithInstance();
    void unused;
    const server = await registerEvolutionServer(tenantId, { name: 'evo-slow', baseUrl: relay.url, apiKey: SIM_API_KEY });
    const name = `race-${Date.now().toString(36)}`;
    const instance = await registerInstance(tenantId, { serverId: server.id, name, minDelayMs: 0, maxDelayMs: 0, limitPerMinute: 1000 });
    stack.sim.createInstance(name, {
      number: '5511977776666',
      state: 'open',
      webhook: { url: webhookUrl(instance.webhookSecret), events: ['MESSAGES_UPDATE', 'SEND_MESSAGE'] },
    });
    await prisma.whatsAppInstance.update({ where: { id: instance.id }, data: { connectionState: 'OPEN' } });
    const phones = uniquePhones(12);
    for (const phone of phones) await prisma.contact.create({ data: { tenantId, phone } });

    const campaign = await createCampaign(tenantId, { name: 'race', messages: [{ text: 'Oi!' }], audience: { all: true }, instanceIds: [instance.id] }, 'test');
    await startCampaign(tenantId, campaign.id, 'test');
    await waitFor(async () => (await prisma.campaign.findUniqueOrThrow({ where: { id: campaign.id } })).status === 'COMPLETED', 60_000);
    await stack.sim.drain();
    await webhooksIdle();

    const sends = stack.sim.sends.filter((s) => s.instance === name);
    expect(sends).toHaveLength(12);
    const finalOf = new Map(sends.map((s) => [s.keyId, s.final]));
    const recipients = await prisma.recipient.findMany({ where: { campaignId: campaign.id } });
    for (const r of recipients) {
      const final = finalOf.get(r.providerMessageId ?? '');
      expect(final, r.phone).toBeDefined();
      expect(r.status, r.phone).toBe(final === 'READ' ? 'READ' : final === 'DELIVERY_ACK' ? 'DELIVERED' : 'FAILED');
      expect(r.sentAt).not.toBeNull();
    }
    expect(new Set(recipients.map((r) => r.status)).size).toBeGreaterThan(1);
    expect(await prisma.pendingReceipt.count({ where: { instanceId: instance.id } })).toBe(0);

    // The receipts really came first: applying them found no key id and parked them.
    expect(stack.workers?.inbox?.outcomes.get('parked') ?? 0).toBeGreaterThanOrEqual(12);

    const { counters, recount } = await countersAndRecount(campaign.id);
    expect(counters).toEqual(recount);
    const health = await instanceAndRecount(instance.id);
    const { healthScore: _a, ...actual } = health.actual;
    const { healthScore: _e, ...expected } = health.expected;
    expect(actual).toEqual(expected);
  });

  it('a receipt for a send still in flight is parked and changes nothing until the send is stored', async () => {
    const s = await tenantWithInstance();
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 1, campaignStatus: 'PAUSED', recipientStatus: 'SENDING' });
    const before = await prisma.recipient.findUniqueOrThrow({ where: { id: c.recipients[0]?.id } });
    const res = await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ event: 'messages.update', instance: s.name, data: { keyId: '3EB0FFEEDDCCBBAA998877', remoteJid: '123@lid', fromMe: true, status: 'DELIVERY_ACK' } }),
    });
    expect(res.status).toBe(200);
    await webhooksIdle();
    expect(await prisma.recipient.findUniqueOrThrow({ where: { id: c.recipients[0]?.id } })).toEqual(before);
    expect(await prisma.pendingReceipt.count({ where: { keyId: '3EB0FFEEDDCCBBAA998877' } })).toBe(1);
    expect(await prisma.campaignLog.count({ where: { campaignId: c.campaignId } })).toBe(0);
  });
});
