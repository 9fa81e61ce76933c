import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { reconcileDue } from '../../src/features/dispatch/reconcile.js';
import { logger } from '../../src/infra/lib/logger.js';
import { requestCampaignPump, requestFollowUpPass } from '../../src/infra/queues/pump.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { SIM_API_KEY, type Stack, startStack, waitFor } from '../helpers/stack.js';
import { campaignRow, insertContacts, logsOf, newRunningCampaign, numbers, sendsTo, uuidOf } from './helpers.js';

const reconcile = () => reconcileDue({ log: logger, requestPump: requestCampaignPump, requestFollowUps: requestFollowUpPass });

describe('follow-ups whose outcome is unknown', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ sim: { noReadRate: 1 } });
  });
  afterAll(async () => {
    await stack.close();
  });

  it("are resolved against Evolution's message store like campaign sends: found, SENT; missing, sent again once", async () => {
    const { tenantId, key } = await newTenant('Follow-up unknown');
    const sender = await addSender(stack, key);
    const instanceId = uuidOf(sender.instanceId);
    const [left, lost] = numbers(2, 97) as [string, string];
    await insertContacts(tenantId, [{ phone: left }, { phone: lost }]);
    const campaignId = await newRunningCampaign(tenantId, [instanceId], { followUps: [{ afterDays: 2, text: 'Lembrete!' }] });
    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 30_000);
    const rule = await prisma.followUpRule.findFirstOrThrow({ where: { campaignId } });
    const recipients = await prisma.recipient.findMany({ where: { campaignId }, include: { contact: true } });

    // The first follow-up left (Evolution has it) but its answer was lost; the second never reached it.
    const res = await fetch(`${stack.sim.url}/message/sendText/${sender.name}`, {
      method: 'POST',
      headers: { apikey: SIM_API_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ number: left.replace(/\D/g, ''), text: 'Lembrete!' }),
    });
    const keyId = ((await res.json()) as { key: { id: string } }).key.id;
    for (const r of recipients) {
      const sentLong = r.phone === lost;
      await prisma.$executeRaw`
        INSERT INTO follow_up (tenant_id, campaign_id, rule_id, recipient_id, contact_id, status, due_at, instance_id, rendered_text, error,
                               claimed_at, reconcile_at, evidence)
        VALUES (${tenantId}::uuid, ${campaignId}::uuid, ${rule.id}::uuid, ${r.id}::uuid, ${r.contactId}::uuid, 'UNKNOWN', now(), ${instanceId}::uuid,
                'Lembrete!', 'timed out waiting for the response',
                now() - make_interval(secs => ${sentLong ? 120 : 1}), now(), '{"reason": "timed out waiting for the response", "lookups": []}'::jsonb)`;
    }

    await reconcile();
    const found = await prisma.followUp.findFirstOrThrow({ where: { campaignId, contact: { phone: left } } });
    expect(found).toMatchObject({ status: 'SENT', providerMessageId: keyId, reconcileAt: null });
    // The lost one: missing once (looked at again soon), then missing again: PENDING, and the pass sends it.
    const missing = await prisma.followUp.findFirstOrThrow({ where: { campaignId, contact: { phone: lost } } });
    expect(missing.status).toBe('UNKNOWN');
    expect((missing.evidence as { lookups: Array<{ result: string; control: string }> }).lookups).toEqual([expect.objectContaining({ result: 'NOT_FOUND', control: 'FOUND' })]);
    await prisma.$executeRaw`UPDATE follow_up SET reconcile_at = now() WHERE id = ${missing.id}::uuid`;
    await reconcile();
    await waitFor(async () => (await prisma.followUp.findUniqueOrThrow({ where: { id: missing.id } })).status === 'SENT', 30_000);
    expect(sendsTo(stack.sim.sends, [lost]).filter((s) => s.text === 'Lembrete!')).toHaveLength(1);
    expect(sendsTo(stack.sim.sends, [left]).filter((s) => s.text === 'Lembrete!')).toHaveLength(1);
    const decisions = (await logsOf(campaignId, 'OUTCOME_RECONCILED')).map((l) => (l.details as { decision: string }).decision).sort();
    expect(decisions).toEqual(['NOT_SENT', 'SENT']);
  });
});
