import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { newTenant } from '../helpers/factories.js';
import { type Stack, startStack } from '../helpers/stack.js';

/** Raw documents: the strings a client could send, NUL characters and lone surrogates included. */
async function raw(url: string, key: string, query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as { data?: Record<string, any>; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } };
}

const issuesOf = (result: { __typename: string; issues?: Array<{ path: string[]; message: string }> }) => {
  expect(result.__typename).toBe('ValidationError');
  return (result.issues ?? []).map((i) => ({ path: i.path.join('.'), message: i.message })).sort((a, b) => a.path.localeCompare(b.path));
};

describe('text PostgreSQL cannot store, and inputs with several bad fields', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ workers: false });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('a NUL in a campaign name or message text is a ValidationError naming each field, and nothing is written', async () => {
    const { tenantId, key } = await newTenant('NUL campaign');
    const r = await raw(
      stack.url,
      key,
      `mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { __typename ... on ValidationError { issues { path message } } } }`,
      { i: { name: 'Black\u0000Friday', messages: [{ text: 'Oi' }, { text: 'Oi\u0000 {{nome}}' }] } },
    );
    expect(r.status).toBe(200);
    expect(issuesOf(r.body.data?.createCampaign)).toEqual([
      { path: 'input.messages.1.text', message: 'contains a NUL character (U+0000), which cannot be stored' },
      { path: 'input.name', message: 'contains a NUL character (U+0000), which cannot be stored' },
    ]);
    expect(await prisma.campaign.count({ where: { tenantId } })).toBe(0);
  });

  it('a NUL in a holiday name, an opt-out keyword or a custom field name is refused the same way', async () => {
    const { tenantId, key } = await newTenant('NUL elsewhere');
    const holiday = await raw(stack.url, key, `mutation($i: HolidayInput!) { addHoliday(input: $i) { __typename ... on ValidationError { issues { path message } } } }`, {
      i: { date: '2026-12-24', name: 'Véspera\u0000', yearly: true },
    });
    expect(issuesOf(holiday.body.data?.addHoliday).map((i) => i.path)).toEqual(['input.name']);
    const tenant = await raw(stack.url, key, `mutation($i: UpdateTenantInput!) { updateTenant(input: $i) { __typename ... on ValidationError { issues { path message } } } }`, {
      i: { optOutKeywords: ['SAIR', 'PA\u0000RAR'] },
    });
    expect(issuesOf(tenant.body.data?.updateTenant).map((i) => i.path)).toEqual(['input.optOutKeywords.1']);
    const contact = await raw(stack.url, key, `mutation($i: ContactInput!) { upsertContact(input: $i) { __typename ... on ValidationError { issues { path message } } } }`, {
      i: { phone: '+5511999990101', customFields: { 'cid\u0000ade': 'Campinas' } },
    });
    expect(issuesOf(contact.body.data?.upsertContact).some((i) => i.path.startsWith('input.customFields') && /NUL/.test(i.message))).toBe(true);
    expect(await prisma.holiday.count({ where: { tenantId } })).toBe(0);
    expect(await prisma.contact.count({ where: { tenantId } })).toBe(0);
  });

  it('a lone surrogate (not text) is refused too, and a NUL in a query argument is a clear error, not an internal one', async () => {
    const { key } = await newTenant('Surrogate');
    const r = await raw(stack.url, key, `mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { __typename ... on ValidationError { issues { path message } } } }`, {
      i: { name: 'Promo \ud83d' },
    });
    expect(issuesOf(r.body.data?.createCampaign)).toEqual([{ path: 'input.name', message: 'contains an unpaired UTF-16 surrogate, which is not text' }]);
    const q = await raw(stack.url, key, `query($s: String) { campaigns(first: 5, filter: { search: $s }) { totalCount } }`, { s: 'fri\u0000day' });
    expect(q.body.errors?.[0]?.extensions?.code).toBe('VALIDATION');
    expect(q.body.errors?.[0]?.message).toMatch(/filter\.search: contains a NUL character/);
  });

  it('every bad field of an input is reported at once, the storable-text issues with the rest', async () => {
    const { key } = await newTenant('All issues');
    const r = await raw(stack.url, key, `mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { __typename ... on ValidationError { issues { path message } } } }`, {
      i: { name: 'Pacing\u0000', pacing: { maxAttempts: 0, errorThreshold: -1 } },
    });
    const paths = issuesOf(r.body.data?.createCampaign).map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['input.pacing.maxAttempts', 'input.pacing.errorThreshold', 'input.name']));
  });
});
