import { type GraphQLObjectType, getNamedType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/features/auth/api-keys.js';
import { prisma } from '../../src/infra/db/client.js';
import { publish } from '../../src/infra/realtime/pubsub.js';
import { schema } from '../../src/api/schema/index.js';
import { addContacts, addSender, newTenant, phones } from '../helpers/factories.js';
import { wsClient } from '../helpers/graphql.js';
import { globalId, uuidOf } from '../helpers/ids.js';
import { type Stack, startStack } from '../helpers/stack.js';

/**
 * Tenant B tries every query, mutation and subscription of the schema on tenant A's data, and every
 * node(id) of A's objects: it gets nothing, and A's data does not change. The last test makes sure no
 * operation of the schema is missing from this file.
 */

interface Result {
  status: number;
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
}

async function op(stack: Stack, key: string, query: string, variables: Record<string, unknown> = {}): Promise<Result> {
  const res = await fetch(`${stack.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, ...((await res.json()) as Omit<Result, 'status'>) };
}

interface TenantA {
  tenantId: string;
  key: string;
  campaignId: string;
  draftId: string;
  messageId: string;
  contactId: string;
  contactPhone: string;
  segmentId: string;
  instanceId: string;
  serverId: string;
  apiKeyId: string;
  holidayId: string;
  importId: string;
  recipientId: string;
  logId: string;
}

/** Every row of tenant A that B might change, as JSON (timestamps of use excluded). */
async function snapshot(tenantId: string) {
  const [campaigns, messages, links, contacts, segments, instances, servers, keys, holidays, recipients, imports, conversions, logs] = await Promise.all([
    prisma.campaign.findMany({ where: { tenantId }, orderBy: { id: 'asc' } }),
    prisma.campaignMessage.findMany({ where: { tenantId }, orderBy: { id: 'asc' } }),
    prisma.campaignInstance.findMany({ where: { tenantId }, orderBy: [{ campaignId: 'asc' }, { instanceId: 'asc' }] }),
    prisma.contact.findMany({ where: { tenantId }, orderBy: { id: 'asc' } }),
    prisma.segment.findMany({ where: { tenantId }, orderBy: { id: 'asc' } }),
    prisma.whatsAppInstance.findMany({ where: { tenantId }, orderBy: { id: 'asc' } }),
    prisma.evolutionServer.findMany({ where: { tenantId }, orderBy: { id: 'asc' } }),
    prisma.apiKey.findMany({ where: { tenantId }, orderBy: { id: 'asc' }, omit: { lastUsedAt: true } }),
    prisma.holiday.findMany({ where: { tenantId }, orderBy: { id: 'asc' } }),
    prisma.recipient.findMany({ where: { tenantId }, orderBy: { id: 'asc' } }),
    prisma.contactImport.findMany({ where: { tenantId }, orderBy: { id: 'asc' } }),
    prisma.conversion.findMany({ where: { tenantId }, orderBy: { id: 'asc' } }),
    prisma.campaignLog.count({ where: { tenantId } }),
  ]);
  return JSON.stringify({ campaigns, messages, links, contacts, segments, instances, servers, keys, holidays, recipients, imports, conversions, logs }, (_k, v) =>
    typeof v === 'bigint' ? v.toString() : v,
  );
}

const rawId = (id: string) => (/^[0-9a-f-]{36}$/.test(id) ? id : uuidOf(id));

/**
 * A's ids, phone and names must not appear anywhere in what B receives, except the ids B itself sent
 * (a NotFoundError may repeat the id it was given: that tells B nothing).
 */
function leaks(a: TenantA, value: unknown, given: Record<string, unknown> = {}): string[] {
  const text = JSON.stringify(value);
  const sent = JSON.stringify(given);
  const ids = [a.campaignId, a.draftId, a.contactId, a.segmentId, a.instanceId, a.serverId, a.apiKeyId, a.holidayId, a.importId, a.messageId, a.recipientId];
  const found = ids.filter((id) => !sent.includes(id) && (text.includes(id) || text.includes(rawId(id))));
  if (text.includes(a.contactPhone) && !sent.includes(a.contactPhone)) found.push(a.contactPhone);
  if (text.includes('Secret campaign') || text.includes('Tenant A')) found.push('A names');
  return found;
}

// Once as the test files' servers run (no response cache), once with the cache the product runs by default.
describe.each([0, 60_000])('tenant isolation through every entry point (response cache TTL %i ms)', (responseCacheTtlMs) => {
  let stack: Stack;
  let a: TenantA;
  let b: { tenantId: string; key: string; instanceId: string; contactId: string };
  const covered = { Query: new Set<string>(), Mutation: new Set<string>(), Subscription: new Set<string>() };

  beforeAll(async () => {
    stack = await startStack({ workers: false, responseCacheTtlMs });
    const ta = await newTenant('Tenant A');
    const sender = await addSender(stack, ta.key);
    const aPhones = phones(3, 91);
    await addContacts(stack, ta.key, aPhones.map((phone, i) => ({ phone, name: `A person ${i}`, tags: ['a-only'] })));
    const contactRow = await prisma.contact.findFirstOrThrow({ where: { tenantId: ta.tenantId, phone: aPhones[0] as string } });
    const created = await op(stack, ta.key, 'mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { ... on CreateCampaignSuccess { data { id messages { id } } } } }', {
      i: {
        name: 'Secret campaign',
        messages: [{ text: 'Oi {{nome}}' }, { text: 'Olá {{nome}}' }],
        audience: { all: true },
        instanceIds: [sender.instanceId],
        abTest: { enabled: true, minSample: 10 },
      },
    });
    const c = (created.data?.createCampaign as { data: { id: string; messages: Array<{ id: string }> } }).data;
    await op(stack, ta.key, 'mutation($id: ID!) { startCampaign(id: $id) { __typename } }', { id: c.id });
    await op(stack, ta.key, 'mutation($id: ID!) { pauseCampaign(id: $id) { __typename } }', { id: c.id });
    const draft = await op(stack, ta.key, 'mutation { createCampaign(input: { name: "Secret draft" }) { ... on CreateCampaignSuccess { data { id } } } }');
    const segment = await op(stack, ta.key, 'mutation { createSegment(input: { name: "A segment", rules: { tags: { any: ["a-only"] } } }) { ... on CreateSegmentSuccess { data { id } } } }');
    const holiday = await op(stack, ta.key, 'mutation { addHoliday(input: { date: "2030-05-01", name: "A day" }) { ... on AddHolidaySuccess { data { id } } } }');
    const imp = await op(stack, ta.key, 'mutation { importContacts(input: { format: JSON, data: "[{\\"phone\\": \\"+5511999990001\\"}]" }) { ... on ImportContactsSuccess { data { id } } } }');
    const extraKey = await createApiKey(ta.tenantId, 'A operator', 'OPERATOR');
    const recipient = await prisma.recipient.findFirstOrThrow({ where: { campaignId: uuidOf(c.id), contactId: contactRow.id } });
    await prisma.recipient.update({ where: { id: recipient.id }, data: { status: 'DELIVERED', sentAt: new Date(), deliveredAt: new Date(), providerMessageId: `A-KEY-${responseCacheTtlMs}` } });
    const log = await prisma.campaignLog.findFirstOrThrow({ where: { campaignId: uuidOf(c.id) } });
    const server = await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: uuidOf(sender.instanceId) }, select: { serverId: true } });
    a = {
      tenantId: ta.tenantId,
      key: ta.key,
      campaignId: c.id,
      draftId: (draft.data?.createCampaign as { data: { id: string } }).data.id,
      messageId: c.messages[0]?.id as string,
      contactId: globalId('Contact', contactRow.id),
      contactPhone: contactRow.phone,
      segmentId: (segment.data?.createSegment as { data: { id: string } }).data.id,
      instanceId: sender.instanceId,
      serverId: globalId('EvolutionServer', server.serverId),
      apiKeyId: globalId('ApiKey', extraKey.apiKey.id),
      holidayId: (holiday.data?.addHoliday as { data: { id: string } }).data.id,
      importId: (imp.data?.importContacts as { data: { id: string } }).data.id,
      recipientId: recipient.id,
      logId: globalId('CampaignLog', log.id.toString()),
    };

    const tb = await newTenant('Tenant B');
    const bSender = await addSender(stack, tb.key);
    await addContacts(stack, tb.key, [{ phone: phones(1, 92)[0] as string, name: 'B person' }]);
    const bContact = await prisma.contact.findFirstOrThrow({ where: { tenantId: tb.tenantId } });
    b = { tenantId: tb.tenantId, key: tb.key, instanceId: bSender.instanceId, contactId: globalId('Contact', bContact.id) };
  });

  afterAll(async () => {
    await stack.close();
  });

  it("shows B none of A's objects through node(id)", async () => {
    const ids = [a.campaignId, a.draftId, a.contactId, a.segmentId, a.instanceId, a.serverId, a.apiKeyId, a.holidayId, a.importId, a.logId];
    for (const id of ids) {
      const r = await op(stack, b.key, 'query($id: ID!) { node(id: $id) { id __typename } }', { id });
      expect(r.data?.node, id).toBeNull();
      // A's own key does see them (so the ids are real).
      const own = await op(stack, a.key, 'query($id: ID!) { node(id: $id) { id } }', { id });
      expect((own.data?.node as { id: string } | null)?.id, id).toBe(id);
    }
    covered.Query.add('node');
  });

  it('answers every query of B without anything of A', async () => {
    const queries: Array<[string, string, Record<string, unknown>?]> = [
      ['viewer', '{ viewer { role tenant { name } } }'],
      ['campaign', 'query($id: ID!) { campaign(id: $id) { id name } }', { id: a.campaignId }],
      ['campaigns', '{ campaigns(first: 100) { totalCount edges { node { id name } } } }'],
      ['campaignPlan', 'query($id: ID!) { campaignPlan(id: $id) { __typename ... on Error { message } } }', { id: a.campaignId }],
      ['previewMessage', 'query($c: ID!, $k: ID!) { previewMessage(campaignId: $c, contactId: $k) { __typename ... on Error { message } } }', { c: a.campaignId, k: a.contactId }],
      ['contacts', '{ contacts(first: 100) { totalCount edges { node { id phone name } } } }'],
      ['contactByPhone', 'query($p: String!) { contactByPhone(phone: $p) { id } }', { p: a.contactPhone }],
      ['contactImports', '{ contactImports(first: 100) { edges { node { id } } } }'],
      ['segments', '{ segments(first: 100) { edges { node { id name contactCount } } } }'],
      ['segmentPreview', '{ segmentPreview(rules: { tags: { any: ["a-only"] } }) { ... on SegmentPreviewSuccess { data { count sample { id } } } } }'],
      ['evolutionServers', '{ evolutionServers(first: 100) { edges { node { id name } } } }'],
      ['instances', '{ instances(first: 100) { edges { node { id name } } } }'],
      ['apiKeys', '{ apiKeys(first: 100, includeRevoked: true) { edges { node { id name } } } }'],
      ['holidays', '{ holidays(first: 100) { edges { node { id name } } } }'],
      ['stats', '{ stats { overallTargeted contacts instances campaignsByStatus { status count } } }'],
      ['tenantAnalytics', '{ tenantAnalytics(from: "2000-01-01T00:00:00Z", to: "2100-01-01T00:00:00Z") { totals { campaigns sent } bestInstances { instance { id } } } }'],
    ];
    for (const [field, query, variables] of queries) {
      const r = await op(stack, b.key, query, variables);
      expect(r.status, field).toBe(200);
      expect(leaks(a, r, variables), `${field}: ${JSON.stringify(r).slice(0, 300)}`).toEqual([]);
      covered.Query.add(field);
    }
    expect((await op(stack, b.key, 'query($id: ID!) { campaign(id: $id) { id } }', { id: a.campaignId })).data?.campaign).toBeNull();
    expect((await op(stack, b.key, 'query($id: ID!) { campaignPlan(id: $id) { __typename } }', { id: a.campaignId })).data?.campaignPlan).toEqual({ __typename: 'NotFoundError' });
    const stats = await op(stack, b.key, '{ stats { overallTargeted contacts instances } }');
    expect(stats.data?.stats).toEqual({ overallTargeted: 0, contacts: 1, instances: 1 });
    const preview = await op(stack, b.key, '{ segmentPreview(rules: { tags: { any: ["a-only"] } }) { ... on SegmentPreviewSuccess { data { count } } } }');
    expect(preview.data?.segmentPreview).toEqual({ data: { count: 0 } });
  });

  it("refuses every mutation of B on A's data, and A's data does not change", async () => {
    const before = await snapshot(a.tenantId);
    const typed = '__typename ... on Error { message }';
    const mutations: Array<[string, string, Record<string, unknown>?]> = [
      ['createCampaign', `mutation($i: [ID!]) { createCampaign(input: { name: "x", instanceIds: $i }) { ${typed} } }`, { i: [a.instanceId] }],
      ['updateCampaign', `mutation($id: ID!) { updateCampaign(id: $id, input: { name: "hijacked" }) { ${typed} } }`, { id: a.campaignId }],
      ['deleteCampaign', `mutation($id: ID!) { deleteCampaign(id: $id) { ${typed} } }`, { id: a.draftId }],
      ['duplicateCampaign', `mutation($id: ID!) { duplicateCampaign(id: $id) { ${typed} } }`, { id: a.campaignId }],
      ['scheduleCampaign', `mutation($id: ID!) { scheduleCampaign(id: $id, startAt: "2099-01-01T00:00:00Z") { ${typed} } }`, { id: a.draftId }],
      ['unscheduleCampaign', `mutation($id: ID!) { unscheduleCampaign(id: $id) { ${typed} } }`, { id: a.draftId }],
      ['startCampaign', `mutation($id: ID!) { startCampaign(id: $id) { ${typed} } }`, { id: a.draftId }],
      ['pauseCampaign', `mutation($id: ID!) { pauseCampaign(id: $id) { ${typed} } }`, { id: a.campaignId }],
      ['resumeCampaign', `mutation($id: ID!) { resumeCampaign(id: $id) { ${typed} } }`, { id: a.campaignId }],
      ['cancelCampaign', `mutation($id: ID!) { cancelCampaign(id: $id) { ${typed} } }`, { id: a.campaignId }],
      ['retryFailed', `mutation($id: ID!) { retryFailed(id: $id) { ${typed} } }`, { id: a.campaignId }],
      ['resendUnknown', `mutation($id: ID!) { resendUnknown(id: $id, confirm: true) { ${typed} } }`, { id: a.campaignId }],
      ['chooseAbWinner', `mutation($id: ID!) { chooseAbWinner(campaignId: $id, variant: "A") { ${typed} } }`, { id: a.campaignId }],
      ['exportCampaignReport', `mutation($id: ID!) { exportCampaignReport(campaignId: $id) { ${typed} } }`, { id: a.campaignId }],
      ['recordConversion', `mutation($r: ID!) { recordConversion(input: { recipientId: $r, value: 10 }) { ${typed} } }`, { r: a.recipientId }],
      ['upsertContact', `mutation($p: String!) { upsertContact(input: { phone: $p, name: "B's own" }) { ${typed} } }`, { p: a.contactPhone }],
      ['addContacts', `mutation($p: String!) { addContacts(contacts: [{ phone: $p, name: "B's own" }]) { ${typed} } }`, { p: a.contactPhone }],
      ['deleteContacts', `mutation($id: ID!) { deleteContacts(contacts: { ids: [$id] }) { ${typed} } }`, { id: a.contactId }],
      ['tagContacts', `mutation($id: ID!) { tagContacts(contacts: { ids: [$id] }, tags: ["x"]) { ${typed} } }`, { id: a.contactId }],
      ['untagContacts', `mutation($id: ID!) { untagContacts(contacts: { ids: [$id] }, tags: ["a-only"]) { ${typed} } }`, { id: a.contactId }],
      ['optOutContacts', `mutation($id: ID!) { optOutContacts(contacts: { ids: [$id] }) { ${typed} } }`, { id: a.contactId }],
      ['optInContacts', `mutation($id: ID!) { optInContacts(contacts: { ids: [$id] }) { ${typed} } }`, { id: a.contactId }],
      ['blockContacts', `mutation($id: ID!) { blockContacts(contacts: { ids: [$id] }) { ${typed} } }`, { id: a.contactId }],
      ['unblockContacts', `mutation($id: ID!) { unblockContacts(contacts: { ids: [$id] }) { ${typed} } }`, { id: a.contactId }],
      ['importContacts', `mutation($d: String!) { importContacts(input: { format: JSON, data: $d }) { ${typed} } }`, { d: JSON.stringify([{ phone: a.contactPhone, name: "B's own" }]) }],
      ['createSegment', `mutation { createSegment(input: { name: "A segment", rules: { tags: { any: ["a-only"] } } }) { ${typed} } }`],
      ['updateSegment', `mutation($id: ID!) { updateSegment(id: $id, input: { name: "hijacked" }) { ${typed} } }`, { id: a.segmentId }],
      ['deleteSegment', `mutation($id: ID!) { deleteSegment(id: $id) { ${typed} } }`, { id: a.segmentId }],
      ['registerEvolutionServer', `mutation { registerEvolutionServer(input: { name: "evo-b", baseUrl: "http://127.0.0.1:1", apiKey: "k" }) { ${typed} } }`],
      ['registerInstance', `mutation($s: ID!) { registerInstance(input: { serverId: $s, name: "intruder" }) { ${typed} } }`, { s: a.serverId }],
      ['updateEvolutionServer', `mutation($id: ID!) { updateEvolutionServer(id: $id, input: { name: "hijacked" }) { ${typed} } }`, { id: a.serverId }],
      ['deleteEvolutionServer', `mutation($id: ID!) { deleteEvolutionServer(id: $id) { ${typed} } }`, { id: a.serverId }],
      ['updateInstance', `mutation($id: ID!) { updateInstance(id: $id, input: { limitPerMinute: 1 }) { ${typed} } }`, { id: a.instanceId }],
      ['pauseInstance', `mutation($id: ID!) { pauseInstance(id: $id) { ${typed} } }`, { id: a.instanceId }],
      ['resumeInstance', `mutation($id: ID!) { resumeInstance(id: $id) { ${typed} } }`, { id: a.instanceId }],
      ['deleteInstance', `mutation($id: ID!) { deleteInstance(id: $id) { ${typed} } }`, { id: a.instanceId }],
      ['checkInstanceConnection', `mutation($id: ID!) { checkInstanceConnection(id: $id) { ${typed} } }`, { id: a.instanceId }],
      ['createApiKey', `mutation { createApiKey(name: "b key", role: VIEWER) { ${typed} } }`],
      ['revokeApiKey', `mutation($id: ID!) { revokeApiKey(id: $id) { ${typed} } }`, { id: a.apiKeyId }],
      ['updateTenant', `mutation { updateTenant(input: { name: "B renamed", timezone: "Europe/Lisbon" }) { ${typed} } }`],
      ['addHoliday', `mutation { addHoliday(input: { date: "2030-05-01", name: "B day" }) { ${typed} } }`],
      ['deleteHoliday', `mutation($id: ID!) { deleteHoliday(id: $id) { ${typed} } }`, { id: a.holidayId }],
    ];
    // Mutations that act on B's own tenant only (nothing of A is named): they must succeed for B.
    const ownTenant = new Set(['createCampaign', 'upsertContact', 'addContacts', 'importContacts', 'createSegment', 'registerEvolutionServer', 'createApiKey', 'updateTenant', 'addHoliday']);
    for (const [field, query, variables] of mutations) {
      const r = await op(stack, b.key, query, variables);
      expect(r.status, field).toBe(200);
      const result = r.data?.[field] as { __typename: string } | undefined;
      if (field === 'createCampaign') expect(result?.__typename, field).toBe('ValidationError');
      else if (ownTenant.has(field)) expect(result?.__typename, `${field}: ${JSON.stringify(r)}`).toMatch(/Success$/);
      else expect(result?.__typename, `${field}: ${JSON.stringify(r)}`).toBe('NotFoundError');
      expect(leaks(a, r, variables), field).toEqual([]);
      covered.Mutation.add(field);
    }
    expect(await snapshot(a.tenantId)).toBe(before);
    // B's phone-based writes made B's own contact, not A's.
    expect(await prisma.contact.count({ where: { phone: a.contactPhone, tenantId: { in: [a.tenantId, b.tenantId] } } })).toBe(2);
  });

  it("refuses every subscription of B to A's objects, and B's tenant-wide feeds carry nothing of A", async () => {
    const subs: Array<[string, string, Record<string, unknown>]> = [
      ['campaignProgress', 'subscription($id: ID!) { campaignProgress(campaignId: $id) { status } }', { id: a.campaignId }],
      ['campaignLogs', 'subscription($id: ID!) { campaignLogs(campaignId: $id) { message } }', { id: a.campaignId }],
      ['instanceHealth', 'subscription($id: ID!) { instanceHealth(instanceId: $id) { name } }', { id: a.instanceId }],
      ['importProgress', 'subscription($id: ID!) { importProgress(importId: $id) { status } }', { id: a.importId }],
    ];
    for (const [field, query, variables] of subs) {
      const ws = wsClient(stack.url, b.key);
      const events: unknown[] = [];
      const errors: unknown[] = [];
      await new Promise<void>((resolve) => {
        ws.client.subscribe(
          { query, variables },
          {
            next: (e) => {
              if (e.errors) errors.push(...e.errors);
              if (e.data) events.push(e);
            },
            error: (e) => (errors.push(e), resolve()),
            complete: () => resolve(),
          },
        );
        setTimeout(resolve, 3000);
      });
      await ws.client.dispose();
      expect(events, field).toEqual([]);
      expect(JSON.stringify(errors), field).toMatch(/not found|NOT_FOUND/i);
      covered.Subscription.add(field);
    }

    // instancesHealth: B sees its own instance, then nothing when A's instance changes.
    const ws = wsClient(stack.url, b.key);
    const seen: unknown[] = [];
    const done = new Promise<void>((resolve) => {
      ws.client.subscribe({ query: 'subscription { instancesHealth { id name } }' }, { next: (e) => void seen.push(e), error: () => resolve(), complete: () => resolve() });
      setTimeout(resolve, 2500);
    });
    await new Promise((r) => setTimeout(r, 800));
    await publish('instance:health', { tenantId: a.tenantId, instanceId: uuidOf(a.instanceId) });
    await done;
    await ws.client.dispose();
    expect(seen.length).toBeGreaterThan(0);
    expect(leaks(a, seen)).toEqual([]);
    expect(JSON.stringify(seen)).toContain(b.instanceId);
    covered.Subscription.add('instancesHealth');
  });

  it('leaves no operation of the schema untested here', () => {
    for (const root of ['Query', 'Mutation', 'Subscription'] as const) {
      const type = schema.getType(root) as GraphQLObjectType;
      const fields = Object.keys(type.getFields());
      const missing = fields.filter((f) => !covered[root].has(f));
      expect(missing, `${root} fields without a tenancy case`).toEqual([]);
      expect(getNamedType(type).name).toBe(root);
    }
  });
});
