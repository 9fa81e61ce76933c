import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { countersAndRecount, envelope, instanceAndRecount, keyId, logsOf, post, receipt, seedCampaign, webhooksIdle, useWebhookStack } from './fixtures.js';
import { tenantWithInstance } from './senders.js';

// Webhooks exactly as a real Evolution 2.3.6 posts them for its WHATSAPP-BUSINESS integration (Meta's
// Cloud API behind Evolution; evolution-api.md §12, captured bodies): receipts of our own sends say
// fromMe false and use Meta's status words.

useWebhookStack();

/** A Cloud API message id, as Meta gives it. */
function wamid(): string {
  return `wamid.HBgN${randomBytes(24).toString('base64url').toUpperCase()}`;
}

/** §12's `messages.update` data of a WHATSAPP-BUSINESS instance. */
function metaReceipt(key: string, status: string, phone: string) {
  const jid = `${phone.replace(/\D/g, '')}@s.whatsapp.net`;
  return { messageId: `cm${randomBytes(12).toString('hex').slice(0, 23)}`, keyId: key, remoteJid: jid, fromMe: false, participant: jid, status, instanceId: '99f2f872-0000-4000-8000-000000000000' };
}

/** Every order of `xs`. */
function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

describe('WHATSAPP-BUSINESS receipts (Meta status words, fromMe false)', () => {
  it('applies SENT → DELIVERED → READ in every order and FAILED, with duplicates: the final state depends only on the set, counters equal a recount', async () => {
    const s = await tenantWithInstance({ integration: 'WHATSAPP_BUSINESS' });
    const orders = permutations(['SENT', 'DELIVERED', 'READ']);
    const failing: string[][] = [
      ['FAILED'],
      ['SENT', 'FAILED'],
      ['FAILED', 'SENT'],
      ['FAILED', 'DELIVERED'],
      ['DELIVERED', 'FAILED'],
      ['READ', 'FAILED', 'SENT', 'DELIVERED'],
    ];
    const plans = [...orders, ...failing];
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: plans.length, keyOf: () => wamid() });
    // Interleaved across recipients, each receipt posted twice (Evolution retries, duplicates happen).
    const longest = Math.max(...plans.map((p) => p.length));
    for (let step = 0; step < longest; step++) {
      for (const [i, plan] of plans.entries()) {
        const status = plan[step];
        if (!status) continue;
        const r = c.recipients[i] as { keyId: string; phone: string };
        for (let copy = 0; copy < 2; copy++) {
          const res = await post(s.url, envelope('messages.update', s.name, metaReceipt(r.keyId, status, r.phone)));
          expect(res.status).toBe(200);
          expect(res.body.ignored).toBeUndefined();
        }
      }
    }
    await webhooksIdle();

    const expected = (plan: string[]) => (plan.includes('READ') ? 'READ' : plan.includes('DELIVERED') ? 'DELIVERED' : plan.includes('FAILED') ? 'FAILED' : 'SENT');
    for (const [i, plan] of plans.entries()) {
      const r = await prisma.recipient.findUniqueOrThrow({ where: { id: (c.recipients[i] as { id: string }).id } });
      expect(r.status, plan.join(',')).toBe(expected(plan));
      if (expected(plan) === 'FAILED') {
        expect(r.error).toBe('WhatsApp reported FAILED');
        expect(r.errorCode).toBe('PROVIDER_ERROR');
      }
      if (plan.includes('DELIVERED') || plan.includes('READ')) expect(r.deliveredAt).not.toBeNull();
      if (plan.includes('READ')) expect(r.readAt).not.toBeNull();
      // One log entry per change, however many copies arrived.
      const types = (await logsOf(r.id)).map((l) => l.type);
      expect(new Set(types).size, plan.join(',')).toBe(types.length);
    }
    const { counters, recount } = await countersAndRecount(c.campaignId);
    expect(counters).toEqual(recount);
    expect(counters).toMatchObject({ delivered: 6 + 3, read: 6 + 1, failed: 3 });
    const health = await instanceAndRecount(s.instanceId);
    expect(health.actual).toEqual(health.expected);
    // Nothing parked: every receipt matched one of our sends.
    expect(await prisma.pendingReceipt.count({ where: { instanceId: s.instanceId } })).toBe(0);
  });

  it('keeps the error detail a failed receipt carries, and parks receipts that overtake the send result on a business number', async () => {
    const s = await tenantWithInstance({ integration: 'WHATSAPP_BUSINESS' });
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 1, keyOf: () => wamid() });
    const r0 = c.recipients[0] as { id: string; keyId: string; phone: string };
    const errors = [{ code: 131026, title: 'Message undeliverable', error_data: { details: 'Message Undeliverable.' } }];
    await post(s.url, envelope('messages.update', s.name, { ...metaReceipt(r0.keyId, 'FAILED', r0.phone), errors }));
    // A receipt for a key no send holds yet (fromMe false, as every business receipt): parked, not dropped.
    const early = wamid();
    await post(s.url, envelope('messages.update', s.name, metaReceipt(early, 'DELIVERED', r0.phone)));
    await webhooksIdle();
    const r = await prisma.recipient.findUniqueOrThrow({ where: { id: r0.id } });
    expect(r.status).toBe('FAILED');
    expect(r.error).toBe('WhatsApp reported FAILED: Message undeliverable: Message Undeliverable. [code 131026]');
    const failedLog = (await prisma.campaignLog.findMany({ where: { recipientId: r0.id, type: 'MESSAGE_FAILED' } }))[0];
    expect(failedLog?.details).toMatchObject({ receipt: 'ERROR', status: 'FAILED', error: 'Message undeliverable: Message Undeliverable. [code 131026]' });
    expect(await prisma.pendingReceipt.count({ where: { keyId: early } })).toBe(1);
  });

  it('records an inbound messages.upsert of a business number as a reply, and honours its opt-out keyword', async () => {
    const s = await tenantWithInstance({ integration: 'WHATSAPP_BUSINESS' });
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 1, campaignStatus: 'RUNNING', keyOf: () => wamid() });
    const r0 = c.recipients[0] as { id: string; phone: string; contactId: string };
    const upsert = {
      key: { id: `wamid.IN${randomBytes(16).toString('hex').toUpperCase()}`, remoteJid: `${r0.phone.slice(1)}@s.whatsapp.net`, fromMe: false },
      pushName: 'Maria',
      message: { conversation: 'SAIR' },
      messageType: 'conversation',
      messageTimestamp: Math.floor(Date.now() / 1000),
      source: 'unknown',
      instanceId: '99f2f872-0000-4000-8000-000000000000',
    };
    const res = await post(s.url, envelope('messages.upsert', s.name, upsert));
    expect(res.status).toBe(200);
    expect(res.body.ignored).toBeUndefined();
    // Evolution also posts contacts.upsert with only pushName and instanceId: acknowledged, unused.
    const contacts = await post(s.url, envelope('contacts.upsert', s.name, { pushName: 'Maria', instanceId: upsert.instanceId }));
    expect(contacts.status).toBe(200);
    await webhooksIdle();
    const reply = await prisma.reply.findFirstOrThrow({ where: { instanceId: s.instanceId, providerMessageId: upsert.key.id } });
    expect(reply).toMatchObject({ contactId: r0.contactId, recipientId: r0.id, text: 'SAIR', isOptOut: true });
    const contact = await prisma.contact.findUniqueOrThrow({ where: { id: r0.contactId } });
    expect(contact.optedOut).toBe(true);
    expect((await prisma.recipient.findUniqueOrThrow({ where: { id: r0.id } })).repliedAt).not.toBeNull();
    const { counters, recount } = await countersAndRecount(c.campaignId);
    expect(counters).toEqual(recount);
  });

  it('send.message with source "unknown" (a business send) proves an UNKNOWN send left', async () => {
    const s = await tenantWithInstance({ integration: 'WHATSAPP_BUSINESS' });
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 1, campaignStatus: 'RUNNING', recipientStatus: 'UNKNOWN' });
    const r0 = c.recipients[0] as { id: string; phone: string };
    const k = wamid();
    await post(s.url, envelope('messages.update', s.name, metaReceipt(k, 'DELIVERED', r0.phone)));
    const sent = {
      key: { fromMe: true, id: k, remoteJid: `${r0.phone.slice(1)}@s.whatsapp.net` },
      message: { conversation: 'Oi Maria' },
      messageType: 'conversation',
      messageTimestamp: Math.floor(Date.now() / 1000),
      instanceId: '99f2f872-0000-4000-8000-000000000000',
      status: 'PENDING',
      source: 'unknown',
    };
    expect((await post(s.url, envelope('send.message', s.name, sent))).status).toBe(200);
    await webhooksIdle();
    const r = await prisma.recipient.findUniqueOrThrow({ where: { id: r0.id } });
    expect(r).toMatchObject({ status: 'DELIVERED', providerMessageId: k });
    const { counters, recount } = await countersAndRecount(c.campaignId);
    expect(counters).toEqual(recount);
    expect(counters).toMatchObject({ unknown: 0, sent: 1, delivered: 1 });
  });
});

describe('fromMe is no evidence of direction for a key id that is one of our sends', () => {
  it('on a Baileys number: applies a fromMe false receipt of our send; keeps nothing of one for a key that is not ours', async () => {
    const s = await tenantWithInstance();
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 1 });
    const r0 = c.recipients[0] as { id: string; keyId: string };
    await post(s.url, envelope('messages.update', s.name, receipt(r0.keyId, 'DELIVERY_ACK', { fromMe: false })));
    // The receipt of an incoming message (our phone read it): not ours, not parked.
    const incoming = keyId();
    const res = await post(s.url, envelope('messages.update', s.name, receipt(incoming, 'READ', { fromMe: false })));
    expect(res.status).toBe(200);
    // An unknown key with fromMe true may be a send whose result is not stored yet: parked.
    const overtaking = keyId();
    await post(s.url, envelope('messages.update', s.name, receipt(overtaking, 'SERVER_ACK')));
    await webhooksIdle();
    expect((await prisma.recipient.findUniqueOrThrow({ where: { id: r0.id } })).status).toBe('DELIVERED');
    expect(await prisma.pendingReceipt.count({ where: { keyId: incoming } })).toBe(0);
    expect(await prisma.pendingReceipt.count({ where: { keyId: overtaking } })).toBe(1);
    const { counters, recount } = await countersAndRecount(c.campaignId);
    expect(counters).toEqual(recount);
  });
});
