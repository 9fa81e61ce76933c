import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCampaign } from '../../src/features/campaigns/lifecycle.js';
import { graphql } from '../gql/index.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { gqlOk } from '../helpers/graphql.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';
import { campaignRow, expectNoDuplicate, insertContacts, newCampaign, numbers, sendsTo, uuidOf } from './helpers.js';

const Create = graphql(`
  mutation DispatchCreateWithPriority($input: CreateCampaignInput!) {
    createCampaign(input: $input) {
      __typename
      ... on CreateCampaignSuccess { data { id priority pacing { limitPerMinute limitPerHour limitPerDay } } }
      ... on ValidationError { issues { path message } }
    }
  }
`);

const Update = graphql(`
  mutation DispatchUpdatePriority($id: ID!, $input: UpdateCampaignInput!) {
    updateCampaign(id: $id, input: $input) {
      __typename
      ... on UpdateCampaignSuccess { data { id priority pacing { limitPerMinute limitPerHour limitPerDay } } }
      ... on ValidationError { issues { path message } }
    }
  }
`);

/** The sends' campaign labels in the order the simulator took them ('H' high, 'L' low), as one string. */
function order(sends: ReadonlyArray<{ number: string }>, high: readonly string[]): string {
  const h = new Set(high.map((p) => p.replace(/\D/g, '')));
  return sends.map((s) => (h.has(s.number) ? 'H' : 'L')).join('');
}

describe('campaign priority on a shared instance', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ sim: { noReadRate: 1 } });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('priority and caps are settings with typed validation errors; priority defaults to 5', async () => {
    const { key } = await newTenant('Priority settings');
    const plain = await gqlOk(stack.url, key, Create, { input: { name: 'plain' } });
    expect(plain.createCampaign).toMatchObject({ __typename: 'CreateCampaignSuccess', data: { priority: 5, pacing: { limitPerMinute: null, limitPerHour: null, limitPerDay: null } } });

    const bad = await gqlOk(stack.url, key, Create, { input: { name: 'bad', priority: 11, pacing: { limitPerMinute: 0, limitPerHour: 100, limitPerDay: 50 } } });
    expect(bad.createCampaign.__typename).toBe('ValidationError');
    const issues = bad.createCampaign.__typename === 'ValidationError' ? bad.createCampaign.issues : [];
    expect(issues.map((i) => i.path.join('.')).sort()).toEqual(['input.pacing.limitPerHour', 'input.pacing.limitPerMinute', 'input.priority'].sort());

    const ok = await gqlOk(stack.url, key, Create, { input: { name: 'capped', priority: 9, pacing: { limitPerMinute: 5, limitPerDay: 100 } } });
    if (ok.createCampaign.__typename !== 'CreateCampaignSuccess') throw new Error(JSON.stringify(ok));
    expect(ok.createCampaign.data).toMatchObject({ priority: 9, pacing: { limitPerMinute: 5, limitPerHour: null, limitPerDay: 100 } });
    // An update changes only what it gives; null clears a cap.
    const updated = await gqlOk(stack.url, key, Update, { id: ok.createCampaign.data.id, input: { priority: 1, pacing: { limitPerMinute: null } } });
    expect(updated.updateCampaign).toMatchObject({ data: { priority: 1, pacing: { limitPerMinute: null, limitPerHour: null, limitPerDay: 100 } } });
    const zero = await gqlOk(stack.url, key, Update, { id: ok.createCampaign.data.id, input: { priority: 0 } });
    expect(zero.updateCampaign).toMatchObject({ __typename: 'ValidationError', issues: [{ path: ['input', 'priority'] }] });
  });

  // The priority-8 campaign has more sends than the pump reserves ahead (5 s of slots): without
  // priorities, the other one's pump would take slots in between.
  it('started together (priority 8 first, then 3, back to back): every send of the priority-8 campaign comes before any of the priority-3 one', async () => {
    const { tenantId, key } = await newTenant('Priority together');
    // A gap between sends, as every real instance has: the order of the slots is the order of the sends.
    const sender = await addSender(stack, key, { minDelayMs: 300, maxDelayMs: 400 });
    const instanceId = uuidOf(sender.instanceId);
    const high = numbers(24, 95);
    const low = numbers(8, 96);
    const highIds = await insertContacts(tenantId, high.map((phone) => ({ phone })));
    const lowIds = await insertContacts(tenantId, low.map((phone) => ({ phone })));
    const h = await newCampaign(tenantId, [instanceId], { priority: 8, audience: { contactIds: highIds } });
    const l = await newCampaign(tenantId, [instanceId], { priority: 3, audience: { contactIds: lowIds } });
    // Both are RUNNING before either has sent anything (each start commits its recipients and status together).
    await startCampaign(tenantId, h, 'test');
    await startCampaign(tenantId, l, 'test');

    await waitFor(async () => (await campaignRow(h)).status === 'COMPLETED' && (await campaignRow(l)).status === 'COMPLETED', 60_000, 100);
    const sends = sendsTo(stack.sim.sends, [...high, ...low]);
    expect(sends).toHaveLength(32);
    expectNoDuplicate(sends);
    // Slots are reserved highest priority first; on a busy machine a send job may reach the pace gate a
    // little after the next one, so the last few sends of each can swap. While the priority-8 campaign
    // had recipients due (its first 16 sends at least: more than the pump reserves ahead), none of the other.
    const seq = order(sends, high);
    expect(seq.slice(0, 16), seq).toBe('H'.repeat(16));
    expect(seq.slice(0, 24).split('L').length - 1, seq).toBeLessThanOrEqual(2);
  });

  it('the lower one started first: it keeps only the sends it had scheduled, gives way until the higher one has none ready, then takes the instance back', async () => {
    const { tenantId, key } = await newTenant('Priority late');
    const sender = await addSender(stack, key, { minDelayMs: 400, maxDelayMs: 500 });
    const instanceId = uuidOf(sender.instanceId);
    const high = numbers(24, 97);
    const low = numbers(24, 98);
    const highIds = await insertContacts(tenantId, high.map((phone) => ({ phone })));
    const lowIds = await insertContacts(tenantId, low.map((phone) => ({ phone })));
    const l = await newCampaign(tenantId, [instanceId], { priority: 3, audience: { contactIds: lowIds } });
    const h = await newCampaign(tenantId, [instanceId], { priority: 8, audience: { contactIds: highIds } });
    await startCampaign(tenantId, l, 'test');
    await waitFor(async () => sendsTo(stack.sim.sends, low).length >= 1, 20_000, 20);
    await startCampaign(tenantId, h, 'test');

    await waitFor(async () => (await campaignRow(h)).status === 'COMPLETED' && (await campaignRow(l)).status === 'COMPLETED', 90_000, 100);
    const sends = sendsTo(stack.sim.sends, [...high, ...low]);
    expect(sends).toHaveLength(48);
    expectNoDuplicate(sends);
    // L…L H…H L…L: the low campaign's sends before the high one's are those it had reserved (the
    // pump reserves an instance's slots up to 5 s ahead, in time order; the high campaign's slots
    // come after them).
    const seq = order(sends, high);
    const firstH = seq.indexOf('H');
    const lastH = seq.lastIndexOf('H');
    // Between the high campaign's first and last send, at most a couple of the low one's sends that
    // were already scheduled and reached the gate late on a busy machine; none it scheduled after.
    expect(seq.slice(firstH, lastH + 1).split('L').length - 1, seq).toBeLessThanOrEqual(2);
    expect(seq.endsWith('L'), seq).toBe(true);
    // With 400–500 ms between sends, 5 s of reservations are at most 13 sends, on top of the one or
    // two made before the high campaign started: the low campaign did not keep sending its 24 first.
    expect(firstH, seq).toBeLessThanOrEqual(16);
  });
});
