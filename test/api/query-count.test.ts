import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { graphql } from '../gql/index.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { gqlOk } from '../helpers/graphql.js';
import { uuidOf } from '../helpers/ids.js';
import { prismaStatements } from '../helpers/queries.js';
import { type Stack, startStack } from '../helpers/stack.js';

const NestedList = graphql(`
  query QcNestedList {
    campaigns(first: 50) {
      totalCount
      edges {
        node {
          id
          name
          status
          messages { id text abVariant }
          instances { id name connectionState health { score status sentToday } server { name } }
          counters { targeted sent delivered read failed percentDone deliveryRate }
          audience { type }
          window { startTime weekdays }
        }
      }
    }
  }
`);


async function tenantWithCampaigns(stack: Stack, n: number) {
  const t = await newTenant(`${n} campaigns`);
  const a = await addSender(stack, t.key);
  const b = await addSender(stack, t.key);
  for (let i = 0; i < n; i++) {
    await prisma.campaign.create({
      data: {
        tenantId: t.tenantId,
        name: `Campaign ${i}`,
        sentCount: i,
        messages: { create: [{ tenantId: t.tenantId, order: 0, text: 'A' }, { tenantId: t.tenantId, order: 1, text: 'B' }] },
        instances: { create: [{ tenantId: t.tenantId, instanceId: uuidOf(a.instanceId) }, { tenantId: t.tenantId, instanceId: uuidOf(b.instanceId) }] },
      },
    });
  }
  return t.key;
}

describe('no N+1', () => {
  let stack: Stack;
  let five: string;
  let fifty: string;

  beforeAll(async () => {
    stack = await startStack({ workers: false });
    five = await tenantWithCampaigns(stack, 5);
    fifty = await tenantWithCampaigns(stack, 50);
  });
  afterAll(async () => {
    await stack.close();
  });

  it('the campaigns list with variations, instances and counters runs the same statements for 5 and 50 campaigns', async () => {
    // Warm up.
    await gqlOk(stack.url, five, NestedList);
    await gqlOk(stack.url, fifty, NestedList);

    let small: Awaited<ReturnType<typeof gqlOk<unknown, unknown>>> = null;
    const q5 = await prismaStatements(async () => {
      small = await gqlOk(stack.url, five, NestedList);
    });
    let large: Awaited<ReturnType<typeof gqlOk<unknown, unknown>>> = null;
    const q50 = await prismaStatements(async () => {
      large = await gqlOk(stack.url, fifty, NestedList);
    });
    const s = small as unknown as { campaigns: { edges: Array<{ node: { messages: unknown[]; instances: unknown[] } }> } };
    const l = large as unknown as { campaigns: { totalCount: number; edges: Array<{ node: { messages: unknown[]; instances: unknown[] } }> } };
    expect(s.campaigns.edges).toHaveLength(5);
    expect(l.campaigns.edges).toHaveLength(50);
    expect(l.campaigns.totalCount).toBe(50);
    expect(l.campaigns.edges.every((e) => e.node.messages.length === 2 && e.node.instances.length === 2)).toBe(true);
    if (process.env.QC_DEBUG) console.log(q5.length, q5.join("\n"));
    expect(q50.length).toBe(q5.length);
    // Authentication, the page with its relations, and the total count: a handful, whatever the size.
    expect(q50.length).toBeLessThanOrEqual(8);
  });
});
