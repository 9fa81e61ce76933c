import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKey } from '../../src/features/auth/api-keys.js';
import { graphql } from '../gql/index.js';
import { addContacts, addSender, newTenant, phones } from '../helpers/factories.js';
import { collect, gql, gqlOk, wsClient } from '../helpers/graphql.js';
import { type Stack, startStack } from '../helpers/stack.js';

const Viewer = graphql(`
  query WhoAmI {
    viewer { role tenant { name } }
  }
`);

const ProgressSub = graphql(`
  subscription AuthProgress($campaignId: ID!) {
    campaignProgress(campaignId: $campaignId) { status percentDone }
  }
`);

const CreateCampaign = graphql(`
  mutation AuthCreateCampaign($input: CreateCampaignInput!) {
    createCampaign(input: $input) {
      __typename
      ... on CreateCampaignSuccess { data { id } }
      ... on Error { message }
    }
  }
`);

const ReadCampaign = graphql(`
  query AuthReadCampaign($id: ID!) {
    campaign(id: $id) { id name }
    node(id: $id) { id }
    campaigns(first: 50) { edges { node { id } } }
  }
`);

const Transitions = graphql(`
  mutation AuthTransitions($id: ID!) {
    startCampaign(id: $id) { __typename ... on Error { message } }
    pauseCampaign(id: $id) { __typename ... on Error { message } }
    resumeCampaign(id: $id) { __typename ... on Error { message } }
    cancelCampaign(id: $id) { __typename ... on Error { message } }
  }
`);

describe('authentication', () => {
  let stack: Stack;
  let tenantA: { tenantId: string; key: string };
  let revoked: string;

  beforeAll(async () => {
    stack = await startStack({ workers: false });
    tenantA = await newTenant('Auth A');
    const extra = await createApiKey(tenantA.tenantId, 'to revoke', 'OPERATOR');
    await revokeApiKey(tenantA.tenantId, extra.apiKey.id);
    revoked = extra.key;
  });
  afterAll(async () => {
    await stack.close();
  });

  it('accepts a valid key and tells who is calling', async () => {
    const data = await gqlOk(stack.url, tenantA.key, Viewer);
    expect(data.viewer).toEqual({ role: 'ADMIN', tenant: { name: 'Auth A' } });
  });

  const bad: Array<[string, () => string | null, string]> = [
    ['no key', () => null, 'MISSING'],
    ['a malformed key', () => 'not-a-key', 'MALFORMED'],
    ['a well-formed unknown key', () => `wcp_${'A'.repeat(12)}_${'B'.repeat(43)}`, 'UNKNOWN'],
    ['a revoked key', () => revoked, 'REVOKED'],
  ];

  for (const [label, key, reason] of bad) {
    it(`refuses ${label} over HTTP with 401 UNAUTHENTICATED`, async () => {
      const result = await gql(stack.url, key(), Viewer);
      expect(result.status).toBe(401);
      expect(result.data ?? null).toBeNull();
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason });
      expect(result.errors?.[0]?.message).toMatch(/authentication required|invalid API key|revoked/);
    });

    it(`refuses ${label} over graphql-ws: the socket closes with 4401`, async () => {
      const ws = wsClient(stack.url, key());
      const { events, errors } = await collect(ws, Viewer, {}, () => true, 5000);
      const closed = await ws.closed;
      expect(events).toEqual([]);
      expect(errors.length).toBeGreaterThan(0);
      expect(closed.code).toBe(4401);
      expect(closed.reason).toMatch(/^Unauthorized/);
      await ws.client.dispose();
    });
  }
});

describe('tenancy', () => {
  let stack: Stack;
  let a: { tenantId: string; key: string };
  let b: { tenantId: string; key: string };
  let campaignId: string;

  beforeAll(async () => {
    stack = await startStack({ workers: false });
    a = await newTenant('Tenant A');
    b = await newTenant('Tenant B');
    const sender = await addSender(stack, a.key);
    await addContacts(stack, a.key, phones(3, 7).map((phone) => ({ phone })));
    const created = await gqlOk(stack.url, a.key, CreateCampaign, {
      input: { name: 'A only', messages: [{ text: 'oi' }], audience: { all: true }, instanceIds: [sender.instanceId] },
    });
    if (created.createCampaign.__typename !== 'CreateCampaignSuccess') throw new Error(JSON.stringify(created));
    campaignId = created.createCampaign.data.id;
  });
  afterAll(async () => {
    await stack.close();
  });

  it('lets the owner read its campaign', async () => {
    const data = await gqlOk(stack.url, a.key, ReadCampaign, { id: campaignId });
    expect(data.campaign?.name).toBe('A only');
    expect(data.node?.id).toBe(campaignId);
    expect(data.campaigns.edges.map((e) => e.node.id)).toContain(campaignId);
  });

  it("hides another tenant's campaign from campaign(id), node(id) and the list", async () => {
    const data = await gqlOk(stack.url, b.key, ReadCampaign, { id: campaignId });
    expect(data.campaign).toBeNull();
    expect(data.node).toBeNull();
    expect(data.campaigns.edges).toEqual([]);
  });

  it("refuses every transition of another tenant's campaign as not found, and changes nothing", async () => {
    const data = await gqlOk(stack.url, b.key, Transitions, { id: campaignId });
    for (const field of ['startCampaign', 'pauseCampaign', 'resumeCampaign', 'cancelCampaign'] as const) {
      expect(data[field].__typename, field).toBe('NotFoundError');
    }
    const still = await gqlOk(stack.url, a.key, ReadCampaign, { id: campaignId });
    expect(still.campaign?.name).toBe('A only');
    const { prisma } = await import('../../src/infra/db/client.js');
    const row = await prisma.campaign.findFirstOrThrow({ where: { tenantId: a.tenantId } });
    expect(row.status).toBe('DRAFT');
  });

  it("refuses a subscription to another tenant's campaign and delivers no event", async () => {
    const ws = wsClient(stack.url, b.key);
    const { events, errors } = await collect(ws, ProgressSub, { campaignId }, () => true, 5000);
    expect(events).toEqual([]);
    expect(JSON.stringify(errors)).toMatch(/not found/);
    await ws.client.dispose();

    const own = wsClient(stack.url, a.key);
    const mine = await collect(own, ProgressSub, { campaignId }, (e) => e.length >= 1, 5000);
    expect(mine.errors).toEqual([]);
    expect(mine.events[0]?.campaignProgress.status).toBe('DRAFT');
    await own.client.dispose();
  });

  it('refuses a VIEWER key a mutation with a typed ForbiddenError', async () => {
    const viewer = await createApiKey(a.tenantId, 'read only', 'VIEWER');
    const data = await gqlOk(stack.url, viewer.key, CreateCampaign, { input: { name: 'nope' } });
    expect(data.createCampaign.__typename).toBe('ForbiddenError');
    const read = await gqlOk(stack.url, viewer.key, ReadCampaign, { id: campaignId });
    expect(read.campaign?.name).toBe('A only');
  });
});
