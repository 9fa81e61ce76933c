// The API server's response cache (src/api/schema/response-cache.ts): repeated queries answered without
// executing them, per API key; refreshed by mutations on any server and by other processes' events;
// keys checked on every request; only campaign and sender data cached. The test files' own servers
// run without it (RESPONSE_CACHE_TTL_MS=0 in test/setup/env.ts): their tests write the database
// directly, which no event announces. Here a second server with the cache runs beside the stack's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createApiKey, revokeApiKey } from '../../src/features/auth/api-keys.js';
import { prisma } from '../../src/infra/db/client.js';
import { publish } from '../../src/infra/realtime/pubsub.js';
import { type App, createApp } from '../../src/api/server.js';
import { graphql } from '../gql/index.js';
import { newTenant } from '../helpers/factories.js';
import { gql, gqlOk } from '../helpers/graphql.js';
import { globalId } from '../helpers/ids.js';
import { workerPort } from '../helpers/ports.js';
import { prismaStatements } from '../helpers/queries.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';

const List = graphql(`
  query RcList {
    campaigns(first: 20) {
      edges { node { id name status counters { sent } messages { text } } }
    }
  }
`);

const Instances = graphql(`
  query RcInstances {
    instances(first: 5) { edges { node { id name health { score } } } }
  }
`);

const Contacts = graphql(`
  query RcContacts {
    contacts(first: 20) { edges { node { id name } } }
  }
`);

const Rename = graphql(`
  mutation RcRename($id: ID!, $name: String!) {
    updateCampaign(id: $id, input: { name: $name }) {
      __typename
      ... on Error { message }
    }
  }
`);

const Revoke = graphql(`
  mutation RcRevoke($id: ID!) {
    revokeApiKey(id: $id) {
      __typename
      ... on Error { message }
    }
  }
`);

/** How many statements Prisma sends while `fn` runs. */
const statements = async (fn: () => Promise<unknown>) => (await prismaStatements(fn)).length;

async function tenantWith(names: string[]) {
  const t = await newTenant(`rc ${names[0]}`);
  const ids: string[] = [];
  for (const name of names) {
    const c = await prisma.campaign.create({
      data: { tenantId: t.tenantId, name, messages: { create: [{ tenantId: t.tenantId, order: 0, text: `text of ${name}` }] } },
    });
    ids.push(c.id);
  }
  return { ...t, campaignIds: ids };
}

const names = (r: { campaigns: { edges: Array<{ node: { name: string } }> } }) => r.campaigns.edges.map((e) => e.node.name).sort();

describe('response cache', () => {
  let stack: Stack;
  let cached: App;
  let url: string;

  beforeAll(async () => {
    stack = await startStack({ workers: false });
    cached = createApp({ responseCacheTtlMs: 60_000 });
    url = await cached.listen(await workerPort(inject('portBase'), 1), '127.0.0.1');
    await cached.responseCache?.ready();
  });
  afterAll(async () => {
    await cached?.close();
    await stack?.close();
  });

  it('answers a repeated query of a key without executing it, and each key and tenant only with its own data', async () => {
    const a = await tenantWith(['A one', 'A two']);
    const b = await tenantWith(['B one']);
    let first: unknown;
    expect(await statements(async () => (first = await gqlOk(url, a.key, List)))).toBeGreaterThan(0);
    let again: unknown;
    expect(await statements(async () => (again = await gqlOk(url, a.key, List)))).toBe(0);
    expect(again).toEqual(first);
    expect(names(first as never)).toEqual(['A one', 'A two']);

    // The same query by another tenant's key is executed for that tenant.
    let other: unknown;
    expect(await statements(async () => (other = await gqlOk(url, b.key, List)))).toBeGreaterThan(0);
    expect(names(other as never)).toEqual(['B one']);
    // And by another key of the same tenant (a VIEWER), on its own.
    const { key: viewerKey } = await createApiKey(a.tenantId, 'viewer', 'VIEWER');
    expect(await statements(() => gqlOk(url, viewerKey, List))).toBeGreaterThan(0);
  });

  it('checks the key on every request: an unknown or revoked key is refused, never answered from the cache', async () => {
    const a = await tenantWith(['Revocation']);
    const { key, apiKey } = await createApiKey(a.tenantId, 'to revoke', 'OPERATOR');
    await gqlOk(url, key, List);
    expect(await statements(() => gqlOk(url, key, List))).toBe(0);

    // Revoked through the other API server: this one hears of it (tenant:changed) and refuses the key.
    const revoked = await gqlOk(stack.url, a.key, Revoke, { id: globalId('ApiKey', apiKey.id) });
    expect(revoked.revokeApiKey.__typename).toBe('RevokeApiKeySuccess');
    const refused = await waitFor(async () => {
      const r = await gql(url, key, List);
      return r.status === 401 ? r : null;
    }, 5000);
    expect(refused.data ?? null).toBeNull();
    expect(refused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    // Revoked by the CLI's function: refused too.
    const { key: key2, apiKey: apiKey2 } = await createApiKey(a.tenantId, 'cli revoke', 'OPERATOR');
    await gqlOk(url, key2, List);
    expect(await revokeApiKey(a.tenantId, apiKey2.id)).toBe(true);
    await waitFor(async () => (await gql(url, key2, List)).status === 401, 5000);

    expect((await gql(url, 'wcp_AAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', List)).status).toBe(401);
  });

  it('a mutation on this server is seen by the next query at once; one on another server once its event arrives', async () => {
    const a = await tenantWith(['Before']);
    const id = globalId('Campaign', a.campaignIds[0] as string);
    expect(names(await gqlOk(url, a.key, List))).toEqual(['Before']);

    const here = await gqlOk(url, a.key, Rename, { id, name: 'Renamed here' });
    expect(here.updateCampaign.__typename).toBe('UpdateCampaignSuccess');
    expect(names(await gqlOk(url, a.key, List))).toEqual(['Renamed here']);

    const there = await gqlOk(stack.url, a.key, Rename, { id, name: 'Renamed there' });
    expect(there.updateCampaign.__typename).toBe('UpdateCampaignSuccess');
    await waitFor(async () => names(await gqlOk(url, a.key, List))[0] === 'Renamed there', 5000);
  });

  it("another process's event refreshes the tenant's responses; a write no event announces is not seen until then", async () => {
    const a = await tenantWith(['Progress']);
    const campaignId = a.campaignIds[0] as string;
    const sent = async () => (await gqlOk(url, a.key, List)).campaigns.edges[0]?.node.counters.sent;
    expect(await sent()).toBe(0);

    await prisma.$executeRaw`UPDATE campaign SET sent_count = 7 WHERE id = ${campaignId}::uuid`;
    expect(await sent()).toBe(0); // cached (60 s): no event said anything changed

    // What a worker publishes after recording sends.
    const other = await tenantWith(['Other tenant']);
    await gqlOk(url, other.key, List);
    await publish('campaign:progress', {
      tenantId: a.tenantId, campaignId, status: 'DRAFT', version: '2', resumesAt: null, stalledSince: null, startedAt: null, completedAt: null, at: new Date().toISOString(),
      targeted: 0, sent: 7, delivered: 0, read: 0, replied: 0, clicked: 0, converted: 0, failed: 0, skipped: 0, unknown: 0, remaining: 0,
    });
    await waitFor(async () => (await sent()) === 7, 5000);
    // Another tenant's responses stay cached.
    expect(await statements(() => gqlOk(url, other.key, List))).toBe(0);
  });

  it("an instance's health event refreshes the tenant's responses about senders", async () => {
    const a = await tenantWith(['Health']);
    const server = await prisma.evolutionServer.create({ data: { tenantId: a.tenantId, name: 'evo', baseUrl: 'http://127.0.0.1:1', apiKeyEncrypted: 'v1.x.x.x' } });
    const instance = await prisma.whatsAppInstance.create({ data: { tenantId: a.tenantId, serverId: server.id, name: 'inst', webhookSecret: `rc-secret-${a.tenantId}` } });
    const score = async () => (await gqlOk(url, a.key, Instances)).instances.edges[0]?.node.health.score;
    expect(await score()).toBe(100);
    await prisma.$executeRaw`UPDATE whatsapp_instance SET health_score = 40 WHERE id = ${instance.id}::uuid`;
    expect(await score()).toBe(100); // cached: no event yet
    await publish('instance:health', { tenantId: a.tenantId, instanceId: instance.id });
    await waitFor(async () => (await score()) === 40, 5000);
  });

  it('never caches a response holding other data (contacts here)', async () => {
    const a = await tenantWith(['Contacts']);
    await prisma.contact.create({ data: { tenantId: a.tenantId, phone: '+5511999990001', name: 'Ana' } });
    const first = await gqlOk(url, a.key, Contacts);
    expect(first.contacts.edges.map((e) => e.node.name)).toEqual(['Ana']);
    await prisma.contact.updateMany({ where: { tenantId: a.tenantId }, data: { name: 'Bia' } });
    const second = await gqlOk(url, a.key, Contacts);
    expect(second.contacts.edges.map((e) => e.node.name)).toEqual(['Bia']);
  });

  it('lets nothing live longer than the TTL', async () => {
    const short = createApp({ responseCacheTtlMs: 1500 });
    const shortUrl = await short.listen(await workerPort(inject('portBase'), 2), '127.0.0.1');
    try {
      await short.responseCache?.ready();
      const a = await tenantWith(['Short lived']);
      const sent = async () => (await gqlOk(shortUrl, a.key, List)).campaigns.edges[0]?.node.counters.sent;
      expect(await sent()).toBe(0);
      const changedAt = Date.now();
      await prisma.$executeRaw`UPDATE campaign SET sent_count = 3 WHERE id = ${a.campaignIds[0] as string}::uuid`;
      const soon = await sent();
      // Still the cached answer, unless this machine took longer than the TTL to get here.
      if (Date.now() - changedAt < 1000) expect(soon).toBe(0);
      await new Promise((r) => setTimeout(r, 1600));
      expect(await sent()).toBe(3);
    } finally {
      await short.close();
    }
  });
});
