import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { countersAndRecount, envelope, instanceAndRecount, keyId, logsOf, post, receipt, seedCampaign, webhooksIdle, useWebhookStack } from './fixtures.js';
import { tenantWithInstance } from './senders.js';

useWebhookStack();

async function snapshot(campaignId: string) {
  const recipients = await prisma.recipient.findMany({ where: { campaignId }, orderBy: { seq: 'asc' } });
  const logs = await prisma.campaignLog.count({ where: { campaignId } });
  const campaign = await prisma.campaign.findUniqueOrThrow({ where: { id: campaignId } });
  const { version: _v, updatedAt: _u, ...counters } = campaign;
  return { recipients, logs, counters };
}

/** Rows ever written to the webhook inbox (its sequence moves with every insert, even one rolled back). */
async function jobCount() {
  const [row] = await prisma.$queryRaw<Array<{ n: bigint }>>`SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM webhook_inbox_id_seq`;
  return Number(row?.n ?? 0);
}

async function sign(key: string, opts: { iat?: number; exp?: number } = {}) {
  const iat = opts.iat ?? Math.floor(Date.now() / 1000);
  return new SignJWT({ app: 'evolution', action: 'webhook' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(iat)
    .setExpirationTime(opts.exp ?? iat + 600)
    .sign(new TextEncoder().encode(key));
}

describe('the webhook route refuses what is not a valid Evolution webhook, and writes nothing', () => {
  it('answers 401 to a URL with an unknown secret', async () => {
    const s = await tenantWithInstance();
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 1 });
    const before = await snapshot(c.campaignId);
    const jobs = await jobCount();
    const k = c.recipients[0]?.keyId as string;
    const wrong = s.url.replace(/\/[^/]+$/, '/not-the-secret-but-long-enough');
    const res = await post(wrong, envelope('messages.update', s.name, receipt(k, 'READ')));
    expect(res.status).toBe(401);
    expect(res.body.error?.code).toBe('UNKNOWN_WEBHOOK');
    const alsoWrong = await post(`${s.url.slice(0, -3)}xyz`, envelope('messages.update', s.name, receipt(k, 'READ')));
    expect(alsoWrong.status).toBe(401);
    await webhooksIdle();
    expect(await jobCount()).toBe(jobs);
    expect(await snapshot(c.campaignId)).toEqual(before);
  });

  it('answers 401 when the instance signs its webhooks and the JWT is missing, forged or long expired; accepts a valid one', async () => {
    const s = await tenantWithInstance({ jwtKey: 'the-shared-jwt-key' });
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 1 });
    const k = c.recipients[0]?.keyId as string;
    const before = await snapshot(c.campaignId);
    const body = envelope('messages.update', s.name, receipt(k, 'DELIVERY_ACK'));

    const missing = await post(s.url, body);
    expect(missing.status).toBe(401);
    expect(missing.body.error?.code).toBe('UNAUTHENTICATED');
    const forged = await post(s.url, body, { authorization: `Bearer ${await sign('another-key-entirely')}` });
    expect(forged.status).toBe(401);
    expect(forged.body.error?.message).toMatch(/invalid JWT/);
    const old = Math.floor(Date.now() / 1000) - 3 * 3600;
    const expired = await post(s.url, body, { authorization: `Bearer ${await sign('the-shared-jwt-key', { iat: old, exp: old + 600 })}` });
    expect(expired.status).toBe(401);
    const garbage = await post(s.url, body, { authorization: 'Bearer not.a.jwt' });
    expect(garbage.status).toBe(401);
    await webhooksIdle();
    expect(await snapshot(c.campaignId)).toEqual(before);

    // Evolution reuses one token for all retries of an event: a retry 15 minutes later still passes.
    const retried = Math.floor(Date.now() / 1000) - 15 * 60;
    const late = await post(s.url, body, { authorization: `Bearer ${await sign('the-shared-jwt-key', { iat: retried, exp: retried + 600 })}` });
    expect(late.status).toBe(200);
    await webhooksIdle();
    const r = await prisma.recipient.findUniqueOrThrow({ where: { id: c.recipients[0]?.id } });
    expect(r.status).toBe('DELIVERED');
  });

  it('answers 400 to malformed JSON, a body that is not an envelope, and data of the wrong shape', async () => {
    const s = await tenantWithInstance();
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 1 });
    const k = c.recipients[0]?.keyId as string;
    const before = await snapshot(c.campaignId);
    const jobs = await jobCount();

    const malformed = await post(s.url, '{"event":"messages.update","instance":');
    expect(malformed).toMatchObject({ status: 400, body: { error: { code: 'MALFORMED_JSON' } } });
    const notEnvelope = await post(s.url, { hello: 'world' });
    expect(notEnvelope).toMatchObject({ status: 400, body: { error: { code: 'INVALID_ENVELOPE' } } });
    expect(notEnvelope.body.error?.issues?.length).toBeGreaterThan(0);
    const array = await post(s.url, [envelope('messages.update', s.name, receipt(k, 'READ'))]);
    expect(array.status).toBe(400);

    const shapes: unknown[] = [
      { remoteJid: 'x@s.whatsapp.net', fromMe: true, status: 'READ' }, // no keyId nor id
      { keyId: k, fromMe: true }, // no status
      { keyId: k, fromMe: true, status: { value: 'READ' } },
      { keyId: 42, fromMe: true, status: 'READ' },
      'READ',
      null,
    ];
    for (const data of shapes) {
      const res = await post(s.url, envelope('messages.update', s.name, data));
      expect(res.status, JSON.stringify(data)).toBe(400);
      expect(res.body.error?.code).toBe('INVALID_DATA');
    }
    const badState = await post(s.url, envelope('connection.update', s.name, { instance: s.name, state: 'exploded' }));
    expect(badState).toMatchObject({ status: 400, body: { error: { code: 'INVALID_DATA' } } });
    const noKey = await post(s.url, envelope('send.message', s.name, { status: 'PENDING', message: { conversation: 'x' } }));
    expect(noKey).toMatchObject({ status: 400, body: { error: { code: 'INVALID_DATA' } } });
    const otherInstance = await post(s.url, envelope('messages.update', 'some-other-instance', receipt(k, 'READ')));
    expect(otherInstance).toMatchObject({ status: 400, body: { error: { code: 'INSTANCE_MISMATCH' } } });
    const wrongSuffix = await post(`${s.url}/send-message`, envelope('messages.update', s.name, receipt(k, 'READ')));
    expect(wrongSuffix).toMatchObject({ status: 400, body: { error: { code: 'EVENT_MISMATCH' } } });
    const get = await fetch(s.url);
    expect(get.status).toBe(405);
    await get.text();

    await webhooksIdle();
    expect(await jobCount()).toBe(jobs);
    expect(await snapshot(c.campaignId)).toEqual(before);
  });
});

describe('messages.update', () => {
  it('applies each status once: duplicates change nothing, lower statuses change nothing', async () => {
    const s = await tenantWithInstance();
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 1 });
    const r0 = c.recipients[0] as { id: string; keyId: string };
    for (let i = 0; i < 3; i++) {
      const res = await post(s.url, envelope('messages.update', s.name, receipt(r0.keyId, 'DELIVERY_ACK')));
      expect(res).toMatchObject({ status: 200, body: { ok: true } });
    }
    await webhooksIdle();
    // The same receipt again after it was applied (every delivery is applied: the receipt rules drop
    // it), then a lower one.
    await post(s.url, envelope('messages.update', s.name, receipt(r0.keyId, 'DELIVERY_ACK')));
    await post(s.url, envelope('messages.update', s.name, receipt(r0.keyId, 'SERVER_ACK')));
    await webhooksIdle();

    const r = await prisma.recipient.findUniqueOrThrow({ where: { id: r0.id } });
    expect(r.status).toBe('DELIVERED');
    expect(r.deliveredAt).not.toBeNull();
    expect((await logsOf(r0.id)).map((l) => l.type)).toEqual(['MESSAGE_DELIVERED']);
    const { counters, recount } = await countersAndRecount(c.campaignId);
    expect(counters).toEqual(recount);
    expect(counters).toMatchObject({ sent: 1, delivered: 1, read: 0, failed: 0 });
    const health = await instanceAndRecount(s.instanceId);
    expect(health.actual).toEqual(health.expected);
    expect(health.actual.deliveredToday).toBe(1);
  });

  it('ends in the same state whatever the order of SERVER_ACK, DELIVERY_ACK, READ and ERROR', async () => {
    const s = await tenantWithInstance();
    const statuses = ['SERVER_ACK', 'DELIVERY_ACK', 'READ', 'ERROR'] as const;
    const orders: Array<Array<(typeof statuses)[number]>> = [];
    const permute = (rest: Array<(typeof statuses)[number]>, prefix: Array<(typeof statuses)[number]>) => {
      if (prefix.length > 0) orders.push(prefix);
      rest.forEach((x, i) => permute([...rest.slice(0, i), ...rest.slice(i + 1)], [...prefix, x]));
    };
    permute([...statuses], []);
    expect(orders).toHaveLength(64); // every order of every non-empty subset

    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: orders.length });
    // Round k posts the k-th status of every order at once and waits until all are applied, so each
    // recipient sees its statuses in exactly its order.
    for (let k = 0; k < 4; k++) {
      await Promise.all(
        orders.map(async (order, i) => {
          const status = order[k];
          if (!status) return;
          const res = await post(s.url, envelope('messages.update', s.name, receipt(c.recipients[i]?.keyId as string, status)));
          expect(res.status).toBe(200);
        }),
      );
      await webhooksIdle();
    }

    for (const [i, order] of orders.entries()) {
      const id = c.recipients[i]?.id as string;
      const r = await prisma.recipient.findUniqueOrThrow({ where: { id } });
      const has = (x: string) => order.includes(x as (typeof statuses)[number]);
      const expected = has('READ') ? 'READ' : has('DELIVERY_ACK') ? 'DELIVERED' : has('ERROR') ? 'FAILED' : 'SENT';
      const label = order.join(' → ');
      expect(r.status, label).toBe(expected);
      expect(r.deliveredAt !== null, label).toBe(has('READ') || has('DELIVERY_ACK'));
      expect(r.readAt !== null, label).toBe(has('READ'));
      expect(r.failedAt !== null, label).toBe(expected === 'FAILED');
      if (r.readAt && r.deliveredAt) expect(r.deliveredAt.getTime()).toBeLessThanOrEqual(r.readAt.getTime());
      // One log entry per applied change: ERROR applies only while nothing was delivered yet.
      const errorApplied = has('ERROR') && order.indexOf('ERROR') < Math.min(...['DELIVERY_ACK', 'READ'].map((x) => (has(x) ? order.indexOf(x as never) : 99)));
      const types = (await logsOf(id)).map((l) => l.type).sort();
      const expectedTypes = [
        ...(errorApplied ? ['MESSAGE_FAILED'] : []),
        ...(r.deliveredAt ? ['MESSAGE_DELIVERED'] : []),
        ...(r.readAt ? ['MESSAGE_READ'] : []),
      ].sort();
      expect(types, label).toEqual(expectedTypes);
    }
    const { counters, recount } = await countersAndRecount(c.campaignId);
    expect(counters).toEqual(recount);
    const health = await instanceAndRecount(s.instanceId);
    expect(health.actual).toEqual(health.expected);
    expect(health.actual.failedToday).toBe(orders.filter((o) => !o.includes('READ') && !o.includes('DELIVERY_ACK') && o.includes('ERROR')).length);
  });

  it('accepts the Evolution 1.8 shape (id and a string status), Baileys numeric statuses, by-events URLs and UPPER_SNAKE event names', async () => {
    const s = await tenantWithInstance();
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 4 });
    const [a, b, d, e] = c.recipients as Array<{ id: string; keyId: string }>;
    const v18 = await post(s.url, envelope('messages.update', s.name, { id: a?.keyId, remoteJid: '5511999999999@s.whatsapp.net', fromMe: true, status: 'READ', datetime: Date.now(), owner: s.name }));
    expect(v18.status).toBe(200);
    const numeric = await post(s.url, envelope('messages.update', s.name, receipt(b?.keyId as string, 3)));
    expect(numeric.status).toBe(200);
    const byEvents = await post(`${s.url}/messages-update`, envelope('messages.update', s.name, receipt(d?.keyId as string, 'DELIVERY_ACK')));
    expect(byEvents.status).toBe(200);
    const doubleSlash = await post(`${s.url}//messages-update`, envelope('messages.update', s.name, receipt(d?.keyId as string, 'READ')));
    expect(doubleSlash.status).toBe(200);
    // The configuration's UPPER_SNAKE name in the body is understood too.
    const upper = await post(s.url, envelope('MESSAGES_UPDATE', s.name, receipt(e?.keyId as string, 'ERROR')));
    expect(upper.status).toBe(200);
    await webhooksIdle();
    const rows = await prisma.recipient.findMany({ where: { campaignId: c.campaignId }, orderBy: { seq: 'asc' } });
    expect(rows.map((r) => r.status)).toEqual(['READ', 'DELIVERED', 'READ', 'FAILED']);
    expect(rows[0]?.deliveredAt).not.toBeNull();
    const { counters, recount } = await countersAndRecount(c.campaignId);
    expect(counters).toEqual(recount);
  });

  // Receipts with fromMe false are not ignored by the route: see test/webhooks/integrations.test.ts.
  it('acknowledges and ignores DELETED and PENDING statuses, and events it does not use', async () => {
    const s = await tenantWithInstance();
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 1 });
    const k = c.recipients[0]?.keyId as string;
    const before = await snapshot(c.campaignId);
    const jobs = await jobCount();
    const cases: Array<[string, unknown, string]> = [
      ['messages.update', receipt(k, 'DELETED'), 'carries no delivery information'],
      ['messages.update', receipt(k, 'PENDING'), 'carries no delivery information'],
      ['messages.update', receipt(k, 9), 'carries no delivery information'],
      ['messages.delete', { remoteJid: '5511999999999@s.whatsapp.net', fromMe: true, id: k, status: 'DELETED' }, 'not used'],
      ['presence.update', { id: '5511999999999@s.whatsapp.net', presences: {} }, 'not used'],
      ['logout.instance', null, 'not used'],
      ['status.instance', { instance: s.name, status: 'closed' }, 'not used'],
      ['send.message', { key: { remoteJid: '5511999999999@s.whatsapp.net', fromMe: false, id: k } }, 'not a message we sent'],
    ];
    for (const [event, data, why] of cases) {
      const res = await post(s.url, envelope(event, s.name, data));
      expect(res.status, event).toBe(200);
      expect(res.body.ignored, event).toContain(why);
    }
    await webhooksIdle();
    expect(await jobCount()).toBe(jobs);
    expect(await snapshot(c.campaignId)).toEqual(before);
  });

  it('parks a receipt whose key id is unknown, changes nothing else, and ignores receipts of follow-ups', async () => {
    const s = await tenantWithInstance();
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 1 });
    const before = await snapshot(c.campaignId);
    const unknown = keyId();
    const res = await post(s.url, envelope('messages.update', s.name, receipt(unknown, 'DELIVERY_ACK')));
    expect(res.status).toBe(200);

    const rule = await prisma.followUpRule.create({ data: { tenantId: s.tenantId, campaignId: c.campaignId, step: 1, afterDays: 1, text: 'E aí?' } });
    const followUpKey = keyId();
    await prisma.followUp.create({
      data: {
        tenantId: s.tenantId,
        campaignId: c.campaignId,
        ruleId: rule.id,
        recipientId: c.recipients[0]?.id as string,
        contactId: c.contactIds[0] as string,
        status: 'SENT',
        dueAt: new Date(),
        sentAt: new Date(),
        instanceId: s.instanceId,
        providerMessageId: followUpKey,
      },
    });
    await post(s.url, envelope('messages.update', s.name, receipt(followUpKey, 'READ')));
    await webhooksIdle();

    const parked = await prisma.pendingReceipt.findMany({ where: { instanceId: s.instanceId } });
    expect(parked.map((p) => [p.keyId, p.status])).toEqual([[unknown, 'DELIVERY_ACK']]);
    expect(await snapshot(c.campaignId)).toEqual(before);
    const health = await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: s.instanceId } });
    expect(health).toMatchObject({ healthScore: 100, deliveredToday: 0, readToday: 0 });
  });

  it('keeps receipts that arrive before the send is stored, and applies them when send.message proves an unknown send left', async () => {
    const s = await tenantWithInstance();
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 1, campaignStatus: 'RUNNING', recipientStatus: 'UNKNOWN' });
    const r0 = c.recipients[0] as { id: string; phone: string };
    const k = keyId();
    // The receipts overtake everything: nothing holds this key id yet.
    await post(s.url, envelope('messages.update', s.name, receipt(k, 'READ')));
    await post(s.url, envelope('messages.update', s.name, receipt(k, 'SERVER_ACK')));
    await webhooksIdle();
    expect(await prisma.pendingReceipt.count({ where: { keyId: k } })).toBe(2);
    expect((await prisma.recipient.findUniqueOrThrow({ where: { id: r0.id } })).status).toBe('UNKNOWN');

    const jid = `${r0.phone.slice(1)}@s.whatsapp.net`;
    const sent = {
      key: { remoteJid: jid, fromMe: true, id: k },
      pushName: 'Você',
      status: 'PENDING',
      message: { conversation: 'Olá' },
      contextInfo: null,
      messageType: 'conversation',
      messageTimestamp: Math.floor(Date.now() / 1000),
      instanceId: 'b6c1f0d2-7a1e-4c1b-9d5e-3f2a1b0c9d8e',
      source: 'web',
    };
    expect((await post(s.url, envelope('send.message', s.name, sent))).status).toBe(200);
    await webhooksIdle();

    const r = await prisma.recipient.findUniqueOrThrow({ where: { id: r0.id } });
    expect(r).toMatchObject({ status: 'READ', providerMessageId: k });
    expect(r.sentAt).not.toBeNull();
    expect(r.deliveredAt).not.toBeNull();
    expect(r.readAt).not.toBeNull();
    expect(await prisma.pendingReceipt.count({ where: { keyId: k } })).toBe(0);
    expect((await logsOf(r0.id)).map((l) => l.type)).toEqual(['MESSAGE_SENT', 'MESSAGE_DELIVERED', 'MESSAGE_READ']);
    const { counters, recount } = await countersAndRecount(c.campaignId);
    expect(counters).toEqual(recount);
    expect(counters).toMatchObject({ unknown: 0, sent: 1, delivered: 1, read: 1 });
    const health = await instanceAndRecount(s.instanceId);
    expect(health.actual).toEqual(health.expected);

    // The same send.message again (a redelivery) only confirms.
    expect((await post(s.url, envelope('send.message', s.name, sent))).status).toBe(200);
    await webhooksIdle();
    expect((await logsOf(r0.id)).length).toBe(3);
    expect((await countersAndRecount(c.campaignId)).counters).toEqual(counters);
  });
});
