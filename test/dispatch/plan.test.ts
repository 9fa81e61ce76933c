import { encodeGlobalID } from '@pothos/plugin-relay';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { graphql } from '../gql/index.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { gqlOk } from '../helpers/graphql.js';
import { type Stack, startStack } from '../helpers/stack.js';
import { insertContacts, newCampaign, numbers, uuidOf } from './helpers.js';

const Plan = graphql(`
  query DispatchCampaignPlan($id: ID!) {
    campaignPlan(id: $id) {
      __typename
      ... on CampaignPlanSuccess {
        data {
          audience
          startsAt
          expectedFinish
          fits
          days
          dailyCapacity
          perDay { date volume }
          instances { instanceId name usable reason perMinute perHour perDay healthScore }
          warnings
        }
      }
      ... on NotFoundError { message }
    }
  }
`);

describe('campaignPlan', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ workers: false });
  });
  afterAll(async () => {
    await stack.close();
  });

  it("plans a draft against its instances' daily limits, and warns about an unhealthy instance", async () => {
    const { tenantId, key } = await newTenant('Plan');
    const good = await addSender(stack, key, { name: 'plan-good', limitPerMinute: 10, limitPerHour: 600, limitPerDay: 50 });
    const sick = await addSender(stack, key, { name: 'plan-sick', limitPerMinute: 10, limitPerHour: 600, limitPerDay: 50 });
    await prisma.whatsAppInstance.update({ where: { id: uuidOf(sick.instanceId) }, data: { healthScore: 35, autoPausedAt: new Date() } });
    await insertContacts(tenantId, numbers(120, 50).map((phone) => ({ phone })));
    const campaignId = await newCampaign(tenantId, [uuidOf(good.instanceId), uuidOf(sick.instanceId)]);

    const before = Date.now();
    const r = await gqlOk(stack.url, key, Plan, { id: encodeGlobalID('Campaign', campaignId) });
    if (r.campaignPlan.__typename !== 'CampaignPlanSuccess') throw new Error(JSON.stringify(r));
    const plan = r.campaignPlan.data;
    expect(plan).toMatchObject({ audience: 120, fits: true, days: 3, dailyCapacity: 50 });
    expect(plan.perDay.map((d) => d.volume)).toEqual([50, 50, 20]);
    expect(new Date(plan.startsAt as string).getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(new Date(plan.expectedFinish as string).getTime()).toBeGreaterThan(before + 86_400_000);
    expect(plan.instances).toEqual([
      { instanceId: good.instanceId, name: 'plan-good', usable: true, reason: null, perMinute: 10, perHour: 600, perDay: 50, healthScore: 100 },
      { instanceId: sick.instanceId, name: 'plan-sick', usable: false, reason: 'paused by the health rules', perMinute: 10, perHour: 600, perDay: 50, healthScore: 35 },
    ]);
    expect(plan.warnings).toEqual(
      expect.arrayContaining([
        '1 of 2 instances are unhealthy: plan-sick (health 35)',
        '1 of 2 instances cannot send: plan-sick (paused by the health rules)',
        "sending spans 3 days at the instances' limits and window",
      ]),
    );
  });

  it("another tenant's campaign is not found", async () => {
    const owner = await newTenant('Plan owner');
    const other = await newTenant('Plan other');
    const sender = await addSender(stack, owner.key);
    const campaignId = await newCampaign(owner.tenantId, [uuidOf(sender.instanceId)]);
    const r = await gqlOk(stack.url, other.key, Plan, { id: encodeGlobalID('Campaign', campaignId) });
    expect(r.campaignPlan).toEqual({ __typename: 'NotFoundError', message: `Campaign ${campaignId} not found` });
  });
});
