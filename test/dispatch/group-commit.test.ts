import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { type AcceptedSend, recordAcceptedSends } from '../../src/features/recipients/record-sent.js';
import { claimNext } from '../../src/features/recipients/claim.js';
import { logger } from '../../src/infra/lib/logger.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { type Stack, startStack } from '../helpers/stack.js';
import { expectCountersMatchRecount, insertContacts, logsOf, newRunningCampaign, numbers, uuidOf } from './helpers.js';

type Claimed = Awaited<ReturnType<typeof claimNext>>[number];

function accepted(c: Claimed, keyId: string): AcceptedSend {
  const jid = `${c.phone.slice(1)}@s.whatsapp.net`;
  return {
    recipientId: c.id,
    contactId: c.contact_id,
    phone: c.phone,
    text: c.text,
    request: { endpoint: 'sendText', number: c.phone.slice(1), textLength: c.text.length },
    outcome: { kind: 'sent', httpStatus: 201, keyId, remoteJid: jid, response: { key: { id: keyId, remoteJid: jid, fromMe: true }, status: 'PENDING' } as never, durationMs: 3 },
  };
}

// The claims and records that send jobs of one process make at the same moment, for one campaign and
// instance, are written together (src/infra/lib/keyed-batcher.ts); these tests drive them directly (no
// worker runs), so that the groups are certain to share a statement.
describe('claims and records of concurrent send jobs, written together', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ workers: false });
  });
  afterAll(async () => {
    await stack.close();
  });

  /** A RUNNING campaign of `contacts` recipients on one instance, with no worker to take them. */
  async function runningCampaign(name: string, contacts: number, seed: number) {
    const { tenantId, key } = await newTenant(name);
    const sender = await addSender(stack, key);
    const instanceId = uuidOf(sender.instanceId);
    await insertContacts(tenantId, numbers(contacts, seed).map((phone) => ({ phone })));
    return { tenantId, instanceId, campaignId: await newRunningCampaign(tenantId, [instanceId]) };
  }

  it('concurrent claims get disjoint recipients in sequence order, each under its own job token; the first asked is served first', async () => {
    const { tenantId, instanceId, campaignId } = await runningCampaign('Group claims', 20, 61);
    const order = (await prisma.recipient.findMany({ where: { campaignId }, orderBy: { seq: 'asc' }, select: { id: true } })).map((r) => r.id);

    // The first runs alone; the next three wait for it and share one statement.
    const [a, b, c, d] = await Promise.all([
      claimNext(campaignId, instanceId, 'job-a', null, 'America/Sao_Paulo', 4),
      claimNext(campaignId, instanceId, 'job-b', null, 'America/Sao_Paulo', 5),
      claimNext(campaignId, instanceId, 'job-c', null, 'America/Sao_Paulo', 6),
      claimNext(campaignId, instanceId, 'job-d', null, 'America/Sao_Paulo', 9),
    ]);
    expect(a?.map((r) => r.id)).toEqual(order.slice(0, 4));
    expect(b?.map((r) => r.id)).toEqual(order.slice(4, 9));
    expect(c?.map((r) => r.id)).toEqual(order.slice(9, 15));
    // Only 5 were left for the last: it gets them, fewer than it asked for.
    expect(d?.map((r) => r.id)).toEqual(order.slice(15, 20));

    const rows = await prisma.recipient.findMany({ where: { campaignId }, orderBy: { seq: 'asc' }, select: { status: true, claimToken: true, attempts: true, instanceId: true } });
    const tokens = ['job-a', 'job-b', 'job-c', 'job-d'].flatMap((t, i) => Array.from({ length: [4, 5, 6, 5][i] as number }, () => t));
    expect(rows.map((r) => r.claimToken)).toEqual(tokens);
    expect(new Set(rows.map((r) => `${r.status} ${r.attempts} ${r.instanceId}`))).toEqual(new Set([`SENDING 1 ${instanceId}`]));
    // Nothing left: another claim gets nobody.
    expect(await claimNext(campaignId, instanceId, 'job-e', null, 'America/Sao_Paulo', 3)).toEqual([]);
  });

  it('records that arrive while one is being written are written by the next transaction, together', async () => {
    const { tenantId, instanceId, campaignId } = await runningCampaign('Group records together', 5, 63);
    const claimed = await claimNext(campaignId, instanceId, 'job-t', null, 'America/Sao_Paulo', 5);
    const [first, ...rest] = claimed as [Claimed, ...Claimed[]];
    await Promise.all([
      recordAcceptedSends(tenantId, campaignId, instanceId, [accepted(first, '3EB0GT000000000000000001')], logger),
      recordAcceptedSends(tenantId, campaignId, instanceId, rest.slice(0, 2).map((c, i) => accepted(c, `3EB0GT00000000000000001${i}`)), logger),
      recordAcceptedSends(tenantId, campaignId, instanceId, rest.slice(2).map((c, i) => accepted(c, `3EB0GT00000000000000002${i}`)), logger),
    ]);
    // sent_at is the transaction's start: the last two callers' four sends share one.
    const rows = await prisma.recipient.findMany({ where: { campaignId }, orderBy: { seq: 'asc' }, select: { status: true, sentAt: true } });
    expect(rows.map((r) => r.status)).toEqual(['SENT', 'SENT', 'SENT', 'SENT', 'SENT']);
    expect(new Set(rows.slice(1).map((r) => r.sentAt?.toISOString())).size).toBe(1);
    expect(rows[0]?.sentAt?.getTime()).not.toBe(rows[1]?.sentAt?.getTime());
    expect(await expectCountersMatchRecount(campaignId)).toMatchObject({ sent: 5, remaining: 0 });
  });

  it('records of concurrent jobs share one transaction; one bad send fails only its own caller, and every other send is recorded once', async () => {
    const { tenantId, instanceId, campaignId } = await runningCampaign('Group records', 7, 62);
    const claimed = await claimNext(campaignId, instanceId, 'job-r', null, 'America/Sao_Paulo', 7);
    expect(claimed).toHaveLength(7);
    const [first, a1, a2, a3, b1, b2, b3] = claimed as [Claimed, Claimed, Claimed, Claimed, Claimed, Claimed, Claimed];

    // B's last send came back with the key id of one of A's (a provider that reused an id): the
    // shared transaction fails on it, and the sends are then recorded one by one.
    const results = await Promise.allSettled([
      recordAcceptedSends(tenantId, campaignId, instanceId, [accepted(first, '3EB0GC000000000000000001')], logger),
      recordAcceptedSends(tenantId, campaignId, instanceId, [a1, a2, a3].map((c, i) => accepted(c, `3EB0GC00000000000000001${i}`)), logger),
      recordAcceptedSends(tenantId, campaignId, instanceId, [accepted(b1, '3EB0GC000000000000000020'), accepted(b2, '3EB0GC000000000000000021'), accepted(b3, '3EB0GC000000000000000011')], logger),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);

    const rows = await prisma.recipient.findMany({ where: { campaignId }, orderBy: { seq: 'asc' }, select: { status: true, providerMessageId: true } });
    expect(rows).toEqual([
      { status: 'SENT', providerMessageId: '3EB0GC000000000000000001' },
      { status: 'SENT', providerMessageId: '3EB0GC000000000000000010' },
      { status: 'SENT', providerMessageId: '3EB0GC000000000000000011' },
      { status: 'SENT', providerMessageId: '3EB0GC000000000000000012' },
      { status: 'SENT', providerMessageId: '3EB0GC000000000000000020' },
      { status: 'SENT', providerMessageId: '3EB0GC000000000000000021' },
      // Left SENDING for the sweep, which makes it UNKNOWN: it was accepted under an id we cannot track.
      { status: 'SENDING', providerMessageId: null },
    ]);
    expect((await logsOf(campaignId, 'MESSAGE_SENT')).map((l) => l.recipientId)).toEqual([first, a1, a2, a3, b1, b2].map((c) => c.id));
    const instance = await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: instanceId } });
    expect(instance.sentToday).toBe(6);
    expect(await expectCountersMatchRecount(campaignId)).toMatchObject({ sent: 6, remaining: 1 });
  });
});
