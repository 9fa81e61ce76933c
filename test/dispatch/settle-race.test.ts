import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { markAllUnknown } from '../../src/features/recipients/outcomes.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';
import { campaignRow, expectCountersMatchRecount, insertContacts, logsOf, newRunningCampaign, numbers, uuidOf } from './helpers.js';

describe('a send whose outcome is lost while its send.message proof is being written', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ workers: false });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('is settled SENT with its parked receipts, not left UNKNOWN, when the proof commits while the outcome waits for the row', async () => {
    const { tenantId, key } = await newTenant('Settle race');
    const sender = await addSender(stack, key);
    const instanceId = uuidOf(sender.instanceId);
    await insertContacts(tenantId, numbers(1, 61).map((phone) => ({ phone })));
    const campaignId = await newRunningCampaign(tenantId, [instanceId]);
    const [r] = await prisma.recipient.findMany({ where: { campaignId } });
    if (!r) throw new Error('one recipient expected');
    const keyId = '3EB0RACE0000000000000A';
    // The send is in flight; two of its receipts overtook everything and were parked.
    await prisma.$executeRaw`UPDATE recipient SET status = 'SENDING', sending_at = now(), instance_id = ${instanceId}::uuid WHERE id = ${r.id}::uuid`;
    await prisma.$executeRaw`
      INSERT INTO pending_receipt (tenant_id, instance_id, key_id, status) VALUES
        (${tenantId}::uuid, ${instanceId}::uuid, ${keyId}, 'DELIVERY_ACK'), (${tenantId}::uuid, ${instanceId}::uuid, ${keyId}, 'READ')`;

    // The send.message handler's transaction: the key's advisory lock, then the proof on the row, held open.
    const handler = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await handler.connect();
    try {
      await handler.query('BEGIN');
      await handler.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 42))', [keyId]);
      await handler.query('UPDATE recipient SET confirmed_key_id = $1 WHERE id = $2', [keyId, r.id]);

      // Meanwhile the send's outcome is lost (its worker died): the sweep runs and waits for the row.
      const sweep = markAllUnknown([{ id: r.id, tenant_id: tenantId, campaign_id: campaignId, instance_id: instanceId, contact_id: r.contactId }], 'the worker sending this message stopped mid-send');
      await waitFor(async () => {
        const [w] = await prisma.$queryRaw<Array<{ n: number }>>`
          SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.datname = current_database()`;
        return (w?.n ?? 0) > 0;
      }, 10_000);
      await handler.query('COMMIT');
      await sweep;
    } finally {
      await handler.end();
    }

    const after = await prisma.recipient.findUniqueOrThrow({ where: { id: r.id } });
    expect(after).toMatchObject({ status: 'READ', providerMessageId: keyId, reconcileAt: null });
    expect(after.deliveredAt).not.toBeNull();
    expect(await prisma.pendingReceipt.count({ where: { keyId } })).toBe(0);
    expect(await logsOf(campaignId, 'OUTCOME_UNKNOWN')).toHaveLength(0);
    expect((await logsOf(campaignId, 'MESSAGE_SENT'))[0]?.message).toMatch(/confirmed it left/);
    expect((await campaignRow(campaignId)).unknownCount).toBe(0);
    await expectCountersMatchRecount(campaignId);
  });
});
