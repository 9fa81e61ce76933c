import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCampaign } from '../../src/features/campaigns/lifecycle.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';
import { campaignRow, expectCountersMatchRecount, insertContacts, newCampaign, numbers, sendsTo, uuidOf } from './helpers.js';

const LATENCY = 150;

describe('one message at a time per phone', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ sim: { noReadRate: 1, latencyMs: LATENCY } });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('two campaigns to the same contacts never send to one phone at the same moment', async () => {
    const { tenantId, key } = await newTenant('Phone lock');
    const one = await addSender(stack, key);
    const two = await addSender(stack, key);
    const phones = numbers(15, 90);
    await insertContacts(tenantId, phones.map((phone) => ({ phone })));
    const a = await newCampaign(tenantId, [uuidOf(one.instanceId)], { messages: [{ text: 'campaign A' }] });
    const b = await newCampaign(tenantId, [uuidOf(two.instanceId)], { messages: [{ text: 'campaign B' }] });
    await Promise.all([startCampaign(tenantId, a, 'test'), startCampaign(tenantId, b, 'test')]);
    await waitFor(async () => (await campaignRow(a)).status === 'COMPLETED' && (await campaignRow(b)).status === 'COMPLETED', 30_000);

    const sends = sendsTo(stack.sim.sends, phones);
    expect(sends).toHaveLength(30);
    for (const phone of phones) {
      const mine = sends.filter((s) => s.number === phone.slice(1));
      expect(mine.map((s) => s.text).sort()).toEqual(['campaign A', 'campaign B']);
      // The second request reached the simulator only after the first one's answer (LATENCY ms) came back.
      const [t1, t2] = mine.map((s) => new Date(s.at).getTime()).sort((x, y) => x - y) as [number, number];
      expect(t2 - t1, `phone ${phone}`).toBeGreaterThanOrEqual(LATENCY - 5);
    }
    await expectCountersMatchRecount(a);
    await expectCountersMatchRecount(b);
  });
});
