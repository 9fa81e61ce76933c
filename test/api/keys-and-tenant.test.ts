import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/features/auth/api-keys.js';
import { prisma } from '../../src/infra/db/client.js';
import { hashApiKey } from '../../src/infra/lib/crypto.js';
import { graphql } from '../gql/index.js';
import { addContacts, addSender, newTenant, phones } from '../helpers/factories.js';
import { gql, gqlOk } from '../helpers/graphql.js';
import { uuidOf } from '../helpers/ids.js';
import { type Stack, startStack } from '../helpers/stack.js';

const CreateKey = graphql(`
  mutation KtCreateKey($name: String!, $role: ApiKeyRole!) {
    createApiKey(name: $name, role: $role) {
      __typename
      ... on CreateApiKeySuccess { data { key apiKey { id name role prefix revokedAt } } }
      ... on ValidationError { issues { path message } }
      ... on Error { message }
    }
  }
`);

const RevokeKey = graphql(`
  mutation KtRevokeKey($id: ID!) {
    revokeApiKey(id: $id) {
      __typename
      ... on RevokeApiKeySuccess { data { id revokedAt } }
      ... on ConflictError { message }
      ... on Error { message }
    }
  }
`);

const Keys = graphql(`
  query KtKeys($includeRevoked: Boolean) {
    apiKeys(first: 50, includeRevoked: $includeRevoked) { totalCount edges { node { id name role revokedAt } } }
  }
`);

const Me = graphql(`
  query KtMe {
    viewer { role apiKeyId tenant { name country timezone healthPauseThreshold replyWindowHours optOutKeywords } }
  }
`);

const UpdateTenant = graphql(`
  mutation KtUpdateTenant($input: UpdateTenantInput!) {
    updateTenant(input: $input) {
      __typename
      ... on UpdateTenantSuccess { data { name country region timezone healthPauseThreshold healthCooldownMinutes healthRecoveryPerHour replyWindowHours optOutKeywords } }
      ... on ValidationError { issues { path message } }
      ... on Error { message }
    }
  }
`);

const AddHoliday = graphql(`
  mutation KtAddHoliday($input: HolidayInput!) {
    addHoliday(input: $input) {
      __typename
      ... on AddHolidaySuccess { data { id date name yearly } }
      ... on ValidationError { issues { path message } }
      ... on ConflictError { field }
      ... on Error { message }
    }
  }
`);

const DeleteHoliday = graphql(`
  mutation KtDeleteHoliday($id: ID!) {
    deleteHoliday(id: $id) { __typename ... on DeleteHolidaySuccess { data } ... on Error { message } }
  }
`);

const Holidays = graphql(`
  query KtHolidays {
    holidays(first: 50) { edges { node { date name yearly } } }
  }
`);

const Stats = graphql(`
  query KtStats {
    stats {
      campaignsByStatus { status count }
      today { sent delivered read failed }
      overall { sent delivered read failed }
      overallTargeted
      contacts contactsOptedOut instances instancesPaused
    }
  }
`);

describe('API keys, tenant settings, holidays and stats', () => {
  let stack: Stack;
  let key: string;
  let tenantId: string;

  beforeAll(async () => {
    stack = await startStack({ workers: false });
    ({ key, tenantId } = await newTenant('Keys and tenant'));
  });
  afterAll(async () => {
    await stack.close();
  });

  it('creates a key shown once (only its hash is stored), which works at once with its role', async () => {
    const r = await gqlOk(stack.url, key, CreateKey, { name: 'reporting', role: 'VIEWER' });
    expect(r.createApiKey.__typename).toBe('CreateApiKeySuccess');
    if (r.createApiKey.__typename !== 'CreateApiKeySuccess') return;
    const { key: secret, apiKey } = r.createApiKey.data;
    expect(apiKey).toMatchObject({ name: 'reporting', role: 'VIEWER', revokedAt: null });
    expect(secret.startsWith(apiKey.prefix)).toBe(true);
    const row = await prisma.apiKey.findUniqueOrThrow({ where: { id: uuidOf(apiKey.id) } });
    expect(row.hash).toBe(hashApiKey(secret));
    expect(JSON.stringify(row)).not.toContain(secret);
    const me = await gqlOk(stack.url, secret, Me);
    expect(me.viewer).toMatchObject({ role: 'VIEWER', apiKeyId: apiKey.id, tenant: { name: 'Keys and tenant' } });
    const bad = await gqlOk(stack.url, key, CreateKey, { name: '  ', role: 'VIEWER' });
    expect(bad.createApiKey.__typename).toBe('ValidationError');
  });

  it('revokes a key at once, and never the last active ADMIN key', async () => {
    const made = await gqlOk(stack.url, key, CreateKey, { name: 'temp', role: 'OPERATOR' });
    if (made.createApiKey.__typename !== 'CreateApiKeySuccess') throw new Error('setup');
    const { key: temp, apiKey } = made.createApiKey.data;
    expect((await gql(stack.url, temp, Me)).status).toBe(200);
    const r = await gqlOk(stack.url, key, RevokeKey, { id: apiKey.id });
    expect(r.revokeApiKey.__typename).toBe('RevokeApiKeySuccess');
    const after = await gql(stack.url, temp, Me);
    expect(after.status).toBe(401);
    expect(after.errors?.[0]?.extensions).toMatchObject({ reason: 'REVOKED' });

    const me = await gqlOk(stack.url, key, Me);
    const last = await gqlOk(stack.url, key, RevokeKey, { id: me.viewer.apiKeyId });
    expect(last.revokeApiKey.__typename).toBe('ConflictError');
    expect((await gql(stack.url, key, Me)).status).toBe(200);

    const listed = await gqlOk(stack.url, key, Keys, {});
    expect(listed.apiKeys.edges.map((e) => e.node.id)).not.toContain(apiKey.id);
    const withRevoked = await gqlOk(stack.url, key, Keys, { includeRevoked: true });
    expect(withRevoked.apiKeys.edges.map((e) => e.node.id)).toContain(apiKey.id);
  });

  it('keeps key management to ADMIN keys', async () => {
    const operator = (await createApiKey(tenantId, 'op', 'OPERATOR')).key;
    const c = await gqlOk(stack.url, operator, CreateKey, { name: 'escalate', role: 'ADMIN' });
    expect(c.createApiKey.__typename).toBe('ForbiddenError');
    const me = await gqlOk(stack.url, key, Me);
    const r = await gqlOk(stack.url, operator, RevokeKey, { id: me.viewer.apiKeyId });
    expect(r.revokeApiKey.__typename).toBe('ForbiddenError');
    const list = await gql(stack.url, operator, Keys, {});
    expect(list.errors?.[0]?.message).toMatch(/may not use Query\.apiKeys/);
    expect(await prisma.apiKey.count({ where: { tenantId, name: 'escalate' } })).toBe(0);
  });

  it('changes tenant settings field by field, refusing bad values', async () => {
    const r = await gqlOk(stack.url, key, UpdateTenant, {
      input: { timezone: 'America/Manaus', healthPauseThreshold: 40, replyWindowHours: 48, optOutKeywords: ['sair', ' Parar ', 'SAIR'], region: 'AM' },
    });
    expect(r.updateTenant).toMatchObject({
      data: { name: 'Keys and tenant', country: 'BR', region: 'AM', timezone: 'America/Manaus', healthPauseThreshold: 40, replyWindowHours: 48, optOutKeywords: ['SAIR', 'PARAR'] },
    });
    for (const [input, path] of [
      [{ timezone: 'Mars/Olympus' }, 'input.timezone'],
      [{ country: 'Brazil' }, 'input.country'],
      [{ healthPauseThreshold: 101 }, 'input.healthPauseThreshold'],
      [{ name: null }, 'input.name'],
    ] as const) {
      const bad = await gqlOk(stack.url, key, UpdateTenant, { input: input as never });
      expect(bad.updateTenant.__typename, JSON.stringify(input)).toBe('ValidationError');
      if (bad.updateTenant.__typename === 'ValidationError') expect(bad.updateTenant.issues.map((i) => i.path.join('.'))).toContain(path);
    }
    const t = await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId } });
    expect(t.timezone).toBe('America/Manaus');
    const operator = (await createApiKey(tenantId, 'op2', 'OPERATOR')).key;
    expect((await gqlOk(stack.url, operator, UpdateTenant, { input: { name: 'x' } })).updateTenant.__typename).toBe('ForbiddenError');
  });

  it("manages the tenant's own holidays", async () => {
    const a = await gqlOk(stack.url, key, AddHoliday, { input: { date: '2026-12-24', name: 'Véspera de Natal', yearly: true } });
    expect(a.addHoliday).toMatchObject({ data: { date: '2026-12-24', name: 'Véspera de Natal', yearly: true } });
    const dup = await gqlOk(stack.url, key, AddHoliday, { input: { date: '2026-12-24', name: 'again' } });
    expect(dup.addHoliday).toMatchObject({ __typename: 'ConflictError', field: 'date' });
    for (const date of ['2026-02-30', '24/12/2026', '']) {
      const bad = await gqlOk(stack.url, key, AddHoliday, { input: { date, name: 'x' } });
      expect(bad.addHoliday.__typename, date).toBe('ValidationError');
    }
    expect((await gqlOk(stack.url, key, Holidays)).holidays.edges.map((e) => e.node)).toEqual([{ date: '2026-12-24', name: 'Véspera de Natal', yearly: true }]);
    if (a.addHoliday.__typename !== 'AddHolidaySuccess') return;
    const viewer = (await createApiKey(tenantId, 'ro', 'VIEWER')).key;
    expect((await gqlOk(stack.url, viewer, DeleteHoliday, { id: a.addHoliday.data.id })).deleteHoliday.__typename).toBe('ForbiddenError');
    expect((await gqlOk(stack.url, key, DeleteHoliday, { id: a.addHoliday.data.id })).deleteHoliday.__typename).toBe('DeleteHolidaySuccess');
    expect((await gqlOk(stack.url, key, DeleteHoliday, { id: a.addHoliday.data.id })).deleteHoliday.__typename).toBe('NotFoundError');
  });

  it('reports tenant stats from counters', async () => {
    const t = await newTenant('Stats');
    const sender = await addSender(stack, t.key);
    await addContacts(stack, t.key, phones(3, 77).map((phone) => ({ phone })));
    await prisma.whatsAppInstance.update({ where: { id: uuidOf(sender.instanceId) }, data: { sentToday: 5, deliveredToday: 4, readToday: 2, failedToday: 1 } });
    await prisma.campaign.create({
      data: { tenantId: t.tenantId, name: 'done', status: 'COMPLETED', targetedCount: 10, sentCount: 9, deliveredCount: 8, readCount: 3, failedCount: 1 },
    });
    await prisma.campaign.create({ data: { tenantId: t.tenantId, name: 'draft' } });
    const s = (await gqlOk(stack.url, t.key, Stats)).stats;
    expect(s).toMatchObject({
      campaignsByStatus: [
        { status: 'COMPLETED', count: 1 },
        { status: 'DRAFT', count: 1 },
      ],
      today: { sent: 5, delivered: 4, read: 2, failed: 1 },
      overall: { sent: 9, delivered: 8, read: 3, failed: 1 },
      overallTargeted: 10,
      contacts: 3,
      contactsOptedOut: 0,
      instances: 1,
      instancesPaused: 0,
    });
  });
});
