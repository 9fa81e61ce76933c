import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { SIM_API_KEY, waitFor } from '../helpers/stack.js';
import { countersAndRecount, envelope, post, seedCampaign, uniquePhones, webhooksIdle, useWebhookStack } from './fixtures.js';
import { addInstance, tenantWithInstance } from './senders.js';

const stackOf = useWebhookStack();

/** `messages.upsert` data as Evolution 2.3.x sends it for an incoming text (evolution-api.md §7). */
function incoming(phone: string, text: string, opts: { lid?: boolean; id?: string; fromMe?: boolean; remoteJid?: string; at?: Date } = {}) {
  const phoneJid = `${phone.replace(/\D/g, '')}@s.whatsapp.net`;
  const lidJid = `${Math.floor(Math.random() * 1e14)}@lid`;
  return {
    key: opts.remoteJid
      ? { remoteJid: opts.remoteJid, fromMe: opts.fromMe ?? false, id: opts.id ?? `3A${randomBytes(9).toString('hex').toUpperCase()}`, participant: phoneJid }
      : opts.lid
        ? { remoteJid: lidJid, fromMe: opts.fromMe ?? false, id: opts.id ?? `3A${randomBytes(9).toString('hex').toUpperCase()}`, remoteJidAlt: phoneJid, addressingMode: 'lid' }
        : { remoteJid: phoneJid, fromMe: opts.fromMe ?? false, id: opts.id ?? `3A${randomBytes(9).toString('hex').toUpperCase()}`, remoteJidAlt: lidJid, addressingMode: 'pn' },
    pushName: 'Maria',
    status: 'DELIVERY_ACK',
    message: { conversation: text, messageContextInfo: {} },
    contextInfo: null,
    messageType: 'conversation',
    messageTimestamp: Math.floor((opts.at ?? new Date()).getTime() / 1000),
    instanceId: 'b6c1f0d2-7a1e-4c1b-9d5e-3f2a1b0c9d8e',
    source: 'android',
  };
}

describe('messages.upsert: replies', () => {
  it('attributes a reply within the window to the campaign, variation and instance, once per recipient', async () => {
    const s = await tenantWithInstance();
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 2 });
    const r0 = c.recipients[0] as { id: string; phone: string; contactId: string };
    const rule = await prisma.followUpRule.create({ data: { tenantId: s.tenantId, campaignId: c.campaignId, step: 1, afterDays: 2, text: 'E aí?' } });
    await prisma.followUp.create({
      data: { tenantId: s.tenantId, campaignId: c.campaignId, ruleId: rule.id, recipientId: r0.id, contactId: r0.contactId, dueAt: new Date(Date.now() + 86_400_000) },
    });

    const first = incoming(r0.phone, 'Sim, confirmo');
    const res = await post(s.url, envelope('messages.upsert', s.name, first));
    expect(res).toMatchObject({ status: 200, body: { ok: true } });
    await post(s.url, envelope('messages.upsert', s.name, first)); // a duplicate delivery
    await webhooksIdle();
    await post(s.url, envelope('messages.upsert', s.name, incoming(r0.phone, 'Pode mandar o endereço?')));
    await webhooksIdle();

    const replies = await prisma.reply.findMany({ where: { tenantId: s.tenantId }, orderBy: { receivedAt: 'asc' } });
    expect(replies).toHaveLength(2);
    expect(replies.every((r) => r.campaignId === c.campaignId && r.recipientId === r0.id && r.contactId === r0.contactId && r.instanceId === s.instanceId)).toBe(true);
    expect(replies.map((r) => r.text)).toEqual(['Sim, confirmo', 'Pode mandar o endereço?']);
    expect(replies[0]?.phone).toBe(r0.phone);

    const recipient = await prisma.recipient.findUniqueOrThrow({ where: { id: r0.id } });
    expect(recipient.repliedAt).not.toBeNull();
    expect((await prisma.recipient.findUniqueOrThrow({ where: { id: c.recipients[1]?.id } })).repliedAt).toBeNull();
    const { counters, recount } = await countersAndRecount(c.campaignId);
    expect(counters).toEqual(recount);
    expect(counters.replied).toBe(1);

    const logs = await prisma.campaignLog.findMany({ where: { campaignId: c.campaignId, type: 'MESSAGE_REPLIED' }, orderBy: { id: 'asc' } });
    expect(logs).toHaveLength(2);
    expect(logs[0]).toMatchObject({ recipientId: r0.id, contactId: r0.contactId, instanceId: s.instanceId });
    expect(logs[0]?.details).toMatchObject({ text: 'Sim, confirmo', firstReply: true, messageId: recipient.messageId });
    expect(logs[1]?.details).toMatchObject({ firstReply: false });

    const contact = await prisma.contact.findUniqueOrThrow({ where: { id: r0.contactId } });
    expect(contact.lastInteractionAt).not.toBeNull();
    expect(contact.optedOut).toBe(false);
    const followUps = await prisma.followUp.findMany({ where: { contactId: r0.contactId } });
    expect(followUps.map((f) => f.status)).toEqual(['CANCELLED']);
    expect(followUps[0]?.cancelledAt).not.toBeNull();
  });

  it('finds the phone in remoteJidAlt when remoteJid is a LID, and matches 12-digit Brazilian ids to 13-digit contacts', async () => {
    const s = await tenantWithInstance();
    const phones = uniquePhones(2);
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 2, phones });
    await post(s.url, envelope('messages.upsert', s.name, incoming(phones[0] as string, 'oi', { lid: true })));
    // +55 11 9XXXX-XXXX registered on WhatsApp before the ninth digit: its id has 12 digits.
    const legacy = `${(phones[1] as string).slice(0, 5)}${(phones[1] as string).slice(6)}`;
    expect(legacy).toHaveLength(13);
    await post(s.url, envelope('messages.upsert', s.name, incoming(legacy, 'olá')));
    await webhooksIdle();
    const replies = await prisma.reply.findMany({ where: { tenantId: s.tenantId } });
    expect(replies.map((r) => r.recipientId).sort()).toEqual(c.recipients.map((r) => r.id).sort());
    expect((await countersAndRecount(c.campaignId)).counters.replied).toBe(2);
  });

  it('stores replies from unknown numbers and outside the window without a campaign, and ignores groups and our own messages', async () => {
    const s = await tenantWithInstance();
    const old = new Date(Date.now() - 4 * 24 * 3600_000); // the window is 72 h
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 1, sentAt: old });
    const r0 = c.recipients[0] as { id: string; phone: string; contactId: string };
    const stranger = uniquePhones(1)[0] as string;

    await post(s.url, envelope('messages.upsert', s.name, incoming(r0.phone, 'lembra de mim?')));
    await post(s.url, envelope('messages.upsert', s.name, incoming(stranger, 'quem é?')));
    const group = await post(s.url, envelope('messages.upsert', s.name, incoming(r0.phone, 'no grupo', { remoteJid: '120363025246125486@g.us' })));
    expect(group.body.ignored).toBe('group message');
    const own = await post(s.url, envelope('messages.upsert', s.name, incoming(r0.phone, 'digitado no celular', { fromMe: true })));
    expect(own.body.ignored).toBe('our own message');
    const broadcast = await post(s.url, envelope('messages.upsert', s.name, incoming(r0.phone, 'status', { remoteJid: 'status@broadcast' })));
    expect(broadcast.body.ignored).toBe('status or broadcast');
    await webhooksIdle();

    const replies = await prisma.reply.findMany({ where: { tenantId: s.tenantId }, orderBy: { phone: 'asc' } });
    expect(replies).toHaveLength(2);
    const fromContact = replies.find((r) => r.phone === r0.phone);
    expect(fromContact).toMatchObject({ contactId: r0.contactId, campaignId: null, recipientId: null, text: 'lembra de mim?' });
    expect(replies.find((r) => r.phone === stranger)).toMatchObject({ contactId: null, campaignId: null, recipientId: null });
    expect((await prisma.recipient.findUniqueOrThrow({ where: { id: r0.id } })).repliedAt).toBeNull();
    expect((await prisma.contact.findUniqueOrThrow({ where: { id: r0.contactId } })).lastInteractionAt).not.toBeNull();
    expect(await prisma.campaignLog.count({ where: { campaignId: c.campaignId, type: 'MESSAGE_REPLIED' } })).toBe(0);
    expect(await prisma.contact.count({ where: { tenantId: s.tenantId, phone: stranger } })).toBe(0);
  });

  it('attributes to the campaign sent by the instance that received the reply', async () => {
    const s = await tenantWithInstance();
    const other = await addInstance(s.tenantId);
    const phone = uniquePhones(1)[0] as string;
    const a = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 1, phones: [phone], sentAt: new Date(Date.now() - 3600_000) });
    const b = await seedCampaign({ tenantId: s.tenantId, instanceId: other.instanceId, n: 1, phones: [phone], sentAt: new Date(Date.now() - 60_000) });
    await post(s.url, envelope('messages.upsert', s.name, incoming(phone, 'respondendo a primeira')));
    await post(other.url, envelope('messages.upsert', other.name, incoming(phone, 'respondendo a segunda')));
    await webhooksIdle();
    const replies = await prisma.reply.findMany({ where: { tenantId: s.tenantId } });
    expect(replies.find((r) => r.instanceId === s.instanceId)?.campaignId).toBe(a.campaignId);
    expect(replies.find((r) => r.instanceId === other.instanceId)?.campaignId).toBe(b.campaignId);
    expect((await countersAndRecount(a.campaignId)).counters.replied).toBe(1);
    expect((await countersAndRecount(b.campaignId)).counters.replied).toBe(1);
  });

  it('opts the contact out on a keyword, skips its waiting messages in every campaign and cancels its follow-ups', async () => {
    const s = await tenantWithInstance();
    const phones = uniquePhones(3);
    const sent = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 3, phones });
    const waiting = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 3, phones, campaignStatus: 'PAUSED', recipientStatus: 'QUEUED' });
    const [x, y, z] = sent.recipients as Array<{ id: string; phone: string; contactId: string }>;
    const rule = await prisma.followUpRule.create({ data: { tenantId: s.tenantId, campaignId: sent.campaignId, step: 1, afterDays: 2, text: 'E aí?' } });
    for (const r of [x, y]) {
      await prisma.followUp.create({
        data: { tenantId: s.tenantId, campaignId: sent.campaignId, ruleId: rule.id, recipientId: r?.id as string, contactId: r?.contactId as string, dueAt: new Date(Date.now() + 86_400_000) },
      });
    }

    await post(s.url, envelope('messages.upsert', s.name, incoming(x?.phone as string, '  Sair! ')));
    await post(s.url, envelope('messages.upsert', s.name, incoming(y?.phone as string, 'não quero sair do grupo de ofertas')));
    await post(s.url, envelope('messages.upsert', s.name, incoming(z?.phone as string, 'cancelár')));
    await webhooksIdle();

    const contacts = await prisma.contact.findMany({ where: { id: { in: sent.contactIds } } });
    const optedOut = (id?: string) => contacts.find((c) => c.id === id)?.optedOut;
    expect([optedOut(x?.contactId), optedOut(y?.contactId), optedOut(z?.contactId)]).toEqual([true, false, true]);
    const replies = await prisma.reply.findMany({ where: { tenantId: s.tenantId } });
    expect(replies.filter((r) => r.isOptOut).map((r) => r.contactId).sort()).toEqual([x?.contactId, z?.contactId].sort());

    const queued = await prisma.recipient.findMany({ where: { campaignId: waiting.campaignId } });
    const statusOf = (contactId?: string) => queued.find((r) => r.contactId === contactId)?.status;
    expect([statusOf(x?.contactId), statusOf(y?.contactId), statusOf(z?.contactId)]).toEqual(['SKIPPED', 'QUEUED', 'SKIPPED']);
    const w = await countersAndRecount(waiting.campaignId);
    expect(w.counters).toEqual(w.recount);
    expect(w.counters).toMatchObject({ skipped: 2, remaining: 1 });
    const s2 = await countersAndRecount(sent.campaignId);
    expect(s2.counters).toEqual(s2.recount);
    expect(s2.counters.replied).toBe(3);

    // Any reply cancels the contact's pending follow-ups, an opt-out or not.
    expect((await prisma.followUp.findMany({ where: { campaignId: sent.campaignId } })).map((f) => f.status)).toEqual(['CANCELLED', 'CANCELLED']);
    const optOutLogs = await prisma.campaignLog.findMany({ where: { tenantId: s.tenantId, type: 'OPT_OUT' } });
    expect(optOutLogs.map((l) => l.contactId).sort()).toEqual([x?.contactId, z?.contactId].sort());
    expect(optOutLogs.every((l) => l.campaignId === sent.campaignId)).toBe(true);
    expect(await prisma.campaignLog.count({ where: { campaignId: waiting.campaignId, type: 'CONTACT_REMOVED' } })).toBe(2);
  });

  it('takes replies and connection changes from the simulator, as Evolution sends them', async () => {
    const { tenantId } = await tenantWithInstance();
    const inst = await addInstance(tenantId, { evolutionUrl: stackOf().sim.url });
    const phone = uniquePhones(1)[0] as string;
    const c = await seedCampaign({ tenantId, instanceId: inst.instanceId, n: 1, phones: [phone], campaignStatus: 'RUNNING' });
    stackOf().sim.createInstance(inst.name, {
      number: '5511988887777',
      state: 'open',
      webhook: { url: inst.url, events: ['MESSAGES_UPSERT', 'CONNECTION_UPDATE', 'QRCODE_UPDATED'] },
    });
    const control = (path: string, body: unknown) =>
      fetch(`${stackOf().sim.url}/__simulator/instances/${inst.name}/${path}`, {
        method: 'POST',
        headers: { apikey: SIM_API_KEY, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then((r) => r.json());

    await control('incoming', { from: phone.slice(1), text: 'PARAR', lid: true });
    await waitFor(async () => (await prisma.contact.findFirst({ where: { tenantId, phone } }))?.optedOut === true);
    const reply = await prisma.reply.findFirstOrThrow({ where: { tenantId } });
    expect(reply).toMatchObject({ campaignId: c.campaignId, isOptOut: true, text: 'PARAR' });

    await control('connection', { state: 'close', statusReason: 401 });
    await waitFor(async () => (await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: inst.instanceId } })).connectionState === 'CLOSE');
    await stackOf().sim.drain();
    await webhooksIdle();
    await control('connection', { state: 'connecting' });
    await waitFor(async () => (await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: inst.instanceId } })).connectionState === 'CONNECTING');
    await control('connection', { state: 'open' });
    await waitFor(async () => (await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: inst.instanceId } })).connectionState === 'OPEN');
    await stackOf().sim.drain();
    await webhooksIdle();
    const logs = await prisma.campaignLog.findMany({ where: { campaignId: c.campaignId, type: { in: ['INSTANCE_PAUSED', 'INSTANCE_RESUMED'] } }, orderBy: { id: 'asc' } });
    expect(logs.map((l) => l.type)).toEqual(['INSTANCE_PAUSED', 'INSTANCE_RESUMED']);
    expect(logs[0]?.details).toMatchObject({ cause: 'disconnected', state: 'CLOSE', statusReason: 401 });
    const instance = await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: inst.instanceId } });
    expect(instance.phone).toBe('+5511988887777');
  });

  it('stores the QR code of the connection flow, and clears it when the attempts run out', async () => {
    const s = await tenantWithInstance();
    const qr = { qrcode: { instance: s.name, pairingCode: null, code: '2@AbC123', base64: 'data:image/png;base64,iVBORw0KGgo=' } };
    expect((await post(s.url, envelope('qrcode.updated', s.name, qr))).status).toBe(200);
    await webhooksIdle();
    expect(await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: s.instanceId } })).toMatchObject({
      qrCode: 'data:image/png;base64,iVBORw0KGgo=',
      connectionState: 'CONNECTING',
    });
    const limit = await post(s.url, envelope('qrcode.updated', s.name, { message: 'QR code limit reached, please login again', statusCode: 500 }));
    expect(limit.status).toBe(200);
    await webhooksIdle();
    expect((await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: s.instanceId } })).qrCode).toBeNull();
    const bad = await post(s.url, envelope('qrcode.updated', s.name, { something: 'else' }));
    expect(bad.status).toBe(400);
  });
});
