import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { markAllUnknown } from '../../src/features/recipients/outcomes.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { type Stack, startStack } from '../helpers/stack.js';
import { campaignRow, expectCountersMatchRecount, insertContacts, logsOf, newRunningCampaign, numbers, uuidOf } from './helpers.js';

describe('sweeping sends whose worker never reported back', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ workers: false });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('a send.message proof naming a key id another message holds proves nothing: that send is UNKNOWN, and the sweep goes on', async () => {
    const { tenantId, key } = await newTenant('Reaper');
    const sender = await addSender(stack, key);
    await insertContacts(tenantId, numbers(3, 41).map((phone) => ({ phone })));
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)]);
    const [held, proved, plain] = await prisma.recipient.findMany({ where: { campaignId }, orderBy: { seq: 'asc' } });
    if (!held || !proved || !plain) throw new Error('three recipients expected');
    const keyId = '3EB0AAAAAAAAAAAAAAAAAA';
    // One message was sent with this key id; a later send's proof names the same id (a provider that
    // reused an id, or a simulator restarted with the same seed).
    await prisma.$executeRaw`UPDATE recipient SET status = 'SENT', sent_at = now(), provider_message_id = ${keyId}, instance_id = ${uuidOf(sender.instanceId)}::uuid WHERE id = ${held.id}::uuid`;
    await prisma.$executeRaw`UPDATE campaign SET sent_count = sent_count + 1, remaining_count = remaining_count - 1 WHERE id = ${campaignId}::uuid`;
    await prisma.$executeRaw`
      UPDATE recipient SET status = 'SENDING', sending_at = now() - interval '1 hour', instance_id = ${uuidOf(sender.instanceId)}::uuid,
        confirmed_key_id = CASE WHEN id = ${proved.id}::uuid THEN ${keyId} ELSE NULL END
      WHERE id IN (${proved.id}::uuid, ${plain.id}::uuid)`;

    const stale = await prisma.$queryRaw<Array<{ id: string; tenant_id: string; campaign_id: string; instance_id: string | null; contact_id: string }>>`
      SELECT id, tenant_id, campaign_id, instance_id, contact_id FROM recipient WHERE campaign_id = ${campaignId}::uuid AND status = 'SENDING' ORDER BY seq`;
    expect(stale.map((r) => r.id)).toEqual([proved.id, plain.id]);
    await markAllUnknown(stale, 'the send was claimed but its worker never reported back');

    const after = await prisma.recipient.findMany({ where: { campaignId }, orderBy: { seq: 'asc' }, select: { id: true, status: true, providerMessageId: true } });
    expect(after).toEqual([
      { id: held.id, status: 'SENT', providerMessageId: keyId },
      { id: proved.id, status: 'UNKNOWN', providerMessageId: null },
      { id: plain.id, status: 'UNKNOWN', providerMessageId: null },
    ]);
    expect((await logsOf(campaignId, 'OUTCOME_UNKNOWN')).map((l) => l.recipientId).sort()).toEqual([proved.id, plain.id].sort());
    expect((await campaignRow(campaignId)).unknownCount).toBe(2);
    await expectCountersMatchRecount(campaignId);
  });
});
