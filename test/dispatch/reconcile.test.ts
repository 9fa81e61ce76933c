import { encodeGlobalID } from '@pothos/plugin-relay';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { forgetInstance } from '../../src/features/dispatch/context.js';
import { reconcileDue } from '../../src/features/dispatch/reconcile.js';
import { logger } from '../../src/infra/lib/logger.js';
import { requestCampaignPump } from '../../src/infra/queues/pump.js';
import { refreshServerVersion } from '../../src/features/senders/service.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { SIM_API_KEY, type Stack, startStack, waitFor } from '../helpers/stack.js';
import { campaignRow, expectCountersMatchRecount, insertContacts, logsOf, newRunningCampaign, numbers, sendsTo, uuidOf } from './helpers.js';

const digits = (phone: string) => phone.replace(/\D/g, '');
const reconcile = () => reconcileDue({ log: logger, requestPump: requestCampaignPump });

async function raw(url: string, key: string, query: string, variables: Record<string, unknown>) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: Record<string, any>; errors?: unknown[] };
}

describe('unknown send outcomes, resolved against Evolution', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ sim: { noReadRate: 1 } });
  });
  afterEach(() => {
    stack.sim.configure({ hangNumbers: [], storeMessages: true, version: '2.3.6' });
  });
  afterAll(async () => {
    await stack.close();
  });

  /** A sender whose webhook carries no send.message (by default): no webhook proves a send but a receipt. */
  async function sender(key: string, events = ['MESSAGES_UPDATE', 'CONNECTION_UPDATE']) {
    const s = await addSender(stack, key);
    const set = await fetch(`${stack.sim.url}/webhook/set/${s.name}`, {
      method: 'POST',
      headers: { apikey: SIM_API_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ webhook: { enabled: true, url: s.webhookUrl, events } }),
    });
    expect(set.status).toBe(201);
    return s;
  }

  it('stays UNKNOWN, with its evidence, when the store cannot tell; resendUnknown sends it again only when confirmed', async () => {
    const { tenantId, key } = await newTenant('Undecidable');
    const s = await sender(key);
    const [slow, fine] = numbers(2, 91) as [string, string];
    await insertContacts(tenantId, [{ phone: slow }, { phone: fine }]);
    // Evolution without DATABASE_SAVE_DATA_NEW_MESSAGE: findMessages finds nothing, ours included.
    stack.sim.configure({ storeMessages: false, hangNumbers: [digits(slow)], hangMs: 7000 });
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(s.instanceId)]);
    const unknown = await waitFor(() => prisma.recipient.findFirst({ where: { campaignId, phone: slow, status: 'UNKNOWN' } }), 30_000);
    await waitFor(async () => (await prisma.recipient.findFirstOrThrow({ where: { campaignId, phone: fine } })).sentAt !== null, 30_000);
    // Its deadline (RECONCILE_MAX_MS) passed: the send was an hour ago.
    await prisma.$executeRaw`UPDATE recipient SET sending_at = now() - interval '1 hour', reconcile_at = now() WHERE id = ${unknown.id}::uuid`;
    await reconcile();

    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 30_000);
    const r = await prisma.recipient.findUniqueOrThrow({ where: { id: unknown.id } });
    expect(r).toMatchObject({ status: 'UNKNOWN', reconcileAt: null, providerMessageId: null });
    const evidence = r.evidence as { decision: string; reason: string; lookups: Array<{ result: string; control: string }> };
    expect(evidence).toMatchObject({ decision: 'UNDECIDABLE', reason: 'timed out waiting for the response' });
    expect(evidence.lookups.at(-1)).toMatchObject({ result: 'NOT_FOUND', control: 'MISSING' });
    const [entry] = await logsOf(campaignId, 'OUTCOME_RECONCILED');
    expect(entry).toMatchObject({ severity: 'ERROR' });
    expect(entry?.message).toMatch(/does not keep our messages/);
    expect(sendsTo(stack.sim.sends, [slow])).toHaveLength(1);

    stack.sim.configure({ hangNumbers: [] });
    const id = encodeGlobalID('Campaign', campaignId);
    const mutation = 'mutation($id: ID!, $c: Boolean!) { resendUnknown(id: $id, confirm: $c) { __typename ... on ResendUnknownSuccess { data { requeued campaign { status } } } ... on ValidationError { issues { path message } } } }';
    const refused = await raw(stack.url, key, mutation, { id, c: false });
    expect(refused.data?.resendUnknown).toMatchObject({ __typename: 'ValidationError', issues: [{ path: ['confirm'] }] });
    expect((await campaignRow(campaignId)).status).toBe('COMPLETED');

    const done = await raw(stack.url, key, mutation, { id, c: true });
    expect(done.data?.resendUnknown).toEqual({ __typename: 'ResendUnknownSuccess', data: { requeued: 1, campaign: { status: 'RUNNING' } } });
    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 30_000);
    // Knowingly twice: the operator accepted it.
    expect(sendsTo(stack.sim.sends, [slow])).toHaveLength(2);
    expect(await logsOf(campaignId, 'RESENT')).toHaveLength(1);
    // Sent, with its key id; its receipts may already have moved it on (they come from the simulator on their own time).
    const resent = await prisma.recipient.findUniqueOrThrow({ where: { id: unknown.id } });
    expect(['SENT', 'DELIVERED', 'READ']).toContain(resent.status);
    expect(resent.providerMessageId).not.toBeNull();
    await expectCountersMatchRecount(campaignId);
  });

  it('with Evolution 2.4.0, sends go under a key id chosen in the claim, and an unknown one is found by it', async () => {
    const { tenantId, key } = await newTenant('Chosen key ids');
    // No receipts either (they would prove the send first): only the store can tell.
    const s = await sender(key, ['CONNECTION_UPDATE']);
    stack.sim.configure({ version: '2.4.0' });
    const server = await prisma.evolutionServer.findFirstOrThrow({ where: { tenantId } });
    expect(await refreshServerVersion(server.id)).toBe('2.4.0');
    forgetInstance(uuidOf(s.instanceId));
    const [slow, fine] = numbers(2, 92) as [string, string];
    await insertContacts(tenantId, [{ phone: slow }, { phone: fine }]);
    stack.sim.configure({ hangNumbers: [digits(slow)], hangMs: 7000 });
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(s.instanceId)]);
    const unknown = await waitFor(() => prisma.recipient.findFirst({ where: { campaignId, phone: slow, status: 'UNKNOWN' } }), 30_000);
    expect(unknown.requestKeyId).toMatch(/^3EB0[0-9A-F]{18}$/);
    await prisma.$executeRaw`UPDATE recipient SET reconcile_at = now() WHERE id = ${unknown.id}::uuid`;
    await reconcile();

    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 30_000);
    const rows = await prisma.recipient.findMany({ where: { campaignId }, orderBy: { seq: 'asc' } });
    for (const r of rows) expect(r.providerMessageId, r.phone).toBe(r.requestKeyId);
    // The one found in the store has the statuses the store holds (no webhook brought any).
    expect(rows.find((r) => r.id === unknown.id)?.status).toBe('DELIVERED');
    expect(rows.find((r) => r.id !== unknown.id)?.status).toBe('SENT');
    const sent = sendsTo(stack.sim.sends, [slow, fine]);
    expect(sent.map((x) => x.keyId).sort()).toEqual(rows.map((r) => r.requestKeyId).sort());
    const [entry] = await logsOf(campaignId, 'OUTCOME_RECONCILED');
    expect(entry?.details).toMatchObject({ decision: 'SENT', keyId: unknown.requestKeyId });
    await expectCountersMatchRecount(campaignId);
  });

  it('with Evolution 2.4.0 and no message store, a receipt naming the chosen key id proves a send whose answer was lost', async () => {
    const { tenantId, key } = await newTenant('Receipt proof');
    const s = await sender(key);
    stack.sim.configure({ version: '2.4.0', storeMessages: false });
    const server = await prisma.evolutionServer.findFirstOrThrow({ where: { tenantId } });
    expect(await refreshServerVersion(server.id)).toBe('2.4.0');
    forgetInstance(uuidOf(s.instanceId));
    const [slow] = numbers(1, 93) as [string];
    await insertContacts(tenantId, [{ phone: slow }]);
    stack.sim.configure({ hangNumbers: [digits(slow)], hangMs: 7000 });
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(s.instanceId)]);

    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 30_000);
    const r = await prisma.recipient.findFirstOrThrow({ where: { campaignId } });
    expect(r.providerMessageId).toBe(r.requestKeyId);
    expect(['SENT', 'DELIVERED']).toContain(r.status);
    expect(await logsOf(campaignId, 'OUTCOME_UNKNOWN')).toHaveLength(0);
    expect((await logsOf(campaignId, 'MESSAGE_SENT'))[0]?.message).toMatch(/timed out.*confirmed it left \(a delivery receipt\)/);
    expect(sendsTo(stack.sim.sends, [slow])).toHaveLength(1);
    await expectCountersMatchRecount(campaignId);
  });
});
