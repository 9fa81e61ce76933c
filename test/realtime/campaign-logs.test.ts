import type { ResultOf } from '@graphql-typed-document-node/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import type { LogSeverity, LogType } from '../../src/generated/prisma/client.js';
import { graphql } from '../gql/index.js';
import { gqlOk } from '../helpers/graphql.js';
import { type Stack, startStack } from '../helpers/stack.js';
import { seedCampaign } from '../webhooks/fixtures.js';
import { addInstance, tenantWithInstance } from '../webhooks/senders.js';
import { gid } from './live.js';

const CampaignLogs = graphql(`
  query CampaignLogPage(
    $id: ID!
    $first: Int
    $after: String
    $last: Int
    $before: String
    $types: [LogType!]
    $severities: [LogSeverity!]
    $minSeverity: LogSeverity
    $instanceId: ID
    $since: DateTime
    $until: DateTime
    $order: OrderDirection
  ) {
    campaign(id: $id) {
      logs(
        first: $first
        after: $after
        last: $last
        before: $before
        types: $types
        severities: $severities
        minSeverity: $minSeverity
        instanceId: $instanceId
        since: $since
        until: $until
        order: $order
      ) {
        edges { cursor node { id type severity message instanceId instance { name } recipientId details createdAt } }
        pageInfo { hasNextPage hasPreviousPage endCursor startCursor }
      }
    }
  }
`);

const LogNode = graphql(`
  query CampaignLogNode($id: ID!) {
    node(id: $id) { __typename ... on CampaignLog { message severity } }
  }
`);

const MutationNames = graphql(`
  query RootMutationFields { __schema { mutationType { fields { name } } } }
`);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ workers: false });
});
afterAll(async () => {
  await stack.close();
});

const T0 = Date.parse('2026-03-01T12:00:00Z');

async function seedLogs() {
  const s = await tenantWithInstance();
  const other = await addInstance(s.tenantId);
  const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 1 });
  const kinds: Array<[LogType, LogSeverity]> = [
    ['STARTED', 'INFO'],
    ['MESSAGE_SENT', 'INFO'],
    ['MESSAGE_DELIVERED', 'INFO'],
    ['LIMIT_REACHED', 'WARNING'],
    ['MESSAGE_FAILED', 'ERROR'],
    ['HEALTH_ISSUE', 'CRITICAL'],
  ];
  // 24 entries, one a minute, alternating instances; two share a timestamp (the id breaks the tie).
  const data = Array.from({ length: 24 }, (_, i) => {
    const [type, severity] = kinds[i % kinds.length] as [LogType, LogSeverity];
    return {
      tenantId: s.tenantId,
      campaignId: c.campaignId,
      type,
      severity,
      message: `entry ${i}`,
      instanceId: i % 2 === 0 ? s.instanceId : other.instanceId,
      details: { i },
      createdAt: new Date(T0 + Math.min(i, 22) * 60_000),
    };
  });
  await prisma.campaignLog.createMany({ data });
  // Another campaign's entries never show up.
  const d = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 1 });
  await prisma.campaignLog.create({ data: { tenantId: s.tenantId, campaignId: d.campaignId, type: 'STARTED', message: 'elsewhere' } });
  return { s, other, c, data };
}

describe('campaign.logs', () => {
  it('pages through the whole log, newest first by default, oldest first on request', async () => {
    const { s, c, data } = await seedLogs();
    const id = gid('Campaign', c.campaignId);
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const res: ResultOf<typeof CampaignLogs> = await gqlOk(stack.url, s.key, CampaignLogs, { id, first: 5, after });
      const logs = res.campaign?.logs;
      seen.push(...(logs?.edges.map((e) => e.node.message) ?? []));
      if (!logs?.pageInfo.hasNextPage) break;
      after = logs.pageInfo.endCursor ?? null;
    }
    const stored = await prisma.campaignLog.findMany({ where: { campaignId: c.campaignId }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
    expect(seen).toEqual(stored.map((l) => l.message));
    expect(seen).toHaveLength(data.length);
    expect(seen[0]).toBe('entry 23');

    const asc = await gqlOk(stack.url, s.key, CampaignLogs, { id, first: 3, order: 'ASC' });
    expect(asc.campaign?.logs.edges.map((e) => e.node.message)).toEqual(['entry 0', 'entry 1', 'entry 2']);
    const lastPage = await gqlOk(stack.url, s.key, CampaignLogs, { id, last: 2 });
    expect(lastPage.campaign?.logs.edges.map((e) => e.node.message)).toEqual(['entry 1', 'entry 0']);
    expect(lastPage.campaign?.logs.pageInfo.hasPreviousPage).toBe(true);
  });

  it('filters by type, severity, instance and time range', async () => {
    const { s, other, c } = await seedLogs();
    const id = gid('Campaign', c.campaignId);
    const messages = async (vars: Record<string, unknown>) =>
      (await gqlOk(stack.url, s.key, CampaignLogs, { id, first: 50, ...vars })).campaign?.logs.edges.map((e) => Number(e.node.message.split(' ')[1])).sort((a, b) => a - b);

    expect(await messages({ types: ['MESSAGE_FAILED', 'HEALTH_ISSUE'] })).toEqual([4, 5, 10, 11, 16, 17, 22, 23]);
    expect(await messages({ minSeverity: 'ERROR' })).toEqual([4, 5, 10, 11, 16, 17, 22, 23]);
    expect(await messages({ severities: ['WARNING'] })).toEqual([3, 9, 15, 21]);
    expect(await messages({ severities: ['INFO', 'CRITICAL'], minSeverity: 'ERROR' })).toEqual([5, 11, 17, 23]);
    expect(await messages({ instanceId: gid('WhatsAppInstance', other.instanceId), minSeverity: 'WARNING' })).toEqual([3, 5, 9, 11, 15, 17, 21, 23]);
    expect(await messages({ since: new Date(T0 + 20 * 60_000).toISOString(), until: new Date(T0 + 22 * 60_000).toISOString() })).toEqual([20, 21]);
    expect(await messages({ types: ['OPT_OUT'] })).toEqual([]);

    const one = await gqlOk(stack.url, s.key, CampaignLogs, { id, first: 1, types: ['LIMIT_REACHED'], order: 'ASC' });
    const node = one.campaign?.logs.edges[0]?.node;
    expect(node).toMatchObject({ type: 'LIMIT_REACHED', severity: 'WARNING', message: 'entry 3', instance: { name: other.name }, details: { i: 3 } });
    expect(node?.instanceId).toBe(gid('WhatsAppInstance', other.instanceId));
  });

  it('loads the instances of a page in a bounded number of queries, whatever its size', async () => {
    const { s, c } = await seedLogs();
    const id = gid('Campaign', c.campaignId);
    let queries = 0;
    prisma.$on('query', () => void queries++);
    const count = async (first: number) => {
      queries = 0;
      const res = await gqlOk(stack.url, s.key, CampaignLogs, { id, first });
      expect(res.campaign?.logs.edges).toHaveLength(first);
      expect(res.campaign?.logs.edges.every((e) => e.node.instance?.name)).toBe(true);
      return queries;
    };
    await count(1); // the key's first use is recorded (at most once a minute): not part of the comparison
    const small = await count(2);
    const large = await count(20);
    expect(large).toBe(small);
  });

  it('is the tenant’s own: another tenant finds neither the campaign nor its entries, and no mutation touches the log', async () => {
    const { c } = await seedLogs();
    const stranger = await tenantWithInstance();
    const res = await gqlOk(stack.url, stranger.key, CampaignLogs, { id: gid('Campaign', c.campaignId), first: 5 });
    expect(res.campaign).toBeNull();
    const entry = await prisma.campaignLog.findFirstOrThrow({ where: { campaignId: c.campaignId } });
    const foreign = await gqlOk(stack.url, stranger.key, LogNode, { id: gid('CampaignLog', entry.id.toString()) });
    expect(foreign.node).toBeNull();
    const malformed = await gqlOk(stack.url, stranger.key, LogNode, { id: gid('CampaignLog', 'not-a-number') });
    expect(malformed.node).toBeNull();
    const mutations = await gqlOk(stack.url, stranger.key, MutationNames);
    expect(mutations.__schema.mutationType?.fields?.map((f) => f.name).filter((n) => /log/i.test(n))).toEqual([]);
  });

  it('node(id) finds an entry of the tenant', async () => {
    const { s, c } = await seedLogs();
    const entry = await prisma.campaignLog.findFirstOrThrow({ where: { campaignId: c.campaignId, message: 'entry 5' } });
    const res = await gqlOk(stack.url, s.key, LogNode, { id: gid('CampaignLog', entry.id.toString()) });
    expect(res.node).toEqual({ __typename: 'CampaignLog', message: 'entry 5', severity: 'CRITICAL' });
  });
});
