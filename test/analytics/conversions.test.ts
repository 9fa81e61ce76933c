import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/features/auth/api-keys.js';
import { prisma } from '../../src/infra/db/client.js';
import { graphql } from '../gql/index.js';
import { gqlOk } from '../helpers/graphql.js';
import { globalId } from '../helpers/ids.js';
import { type Stack, startStack } from '../helpers/stack.js';
import { campaignWith, contactsFor, freeze, keyId, markSent, tenantWithInstances } from './fixtures.js';

const RecordMutation = graphql(`
  mutation ConversionsRecord($input: RecordConversionInput!) {
    recordConversion(input: $input) {
      __typename
      ... on RecordConversionSuccess { data { id recipientId value occurredAt externalId recorded campaign { id } contact { id phone } } }
      ... on ValidationError { issues { path message } }
      ... on NotFoundError { resource id }
      ... on ConflictError { field message }
      ... on Error { message }
    }
  }
`);

const Revenue = graphql(`
  query ConversionsRevenue($id: ID!) {
    campaign(id: $id) {
      counters { converted }
      analytics { funnel { converted } revenue { cost conversionValue roi costPerConversion } rates { conversionRate } }
    }
  }
`);

const HOUR = 3_600_000;

describe('recordConversion', () => {
  let stack: Stack;
  let t: Awaited<ReturnType<typeof tenantWithInstances>>;
  let campaignId: string;
  let recipients: Array<{ id: string; phone: string; contactId: string }>;
  const sentAt = new Date(Date.now() - 48 * HOUR);

  beforeAll(async () => {
    stack = await startStack({ workers: false });
    t = await tenantWithInstances('Conversions', 1);
    const contacts = await contactsFor(t.tenantId, 4);
    const campaign = await campaignWith(t.tenantId, { startedAt: sentAt, messages: [{ text: 'Oferta' }], instanceIds: [t.instances[0]?.id as string], cost: 100 });
    campaignId = campaign.id;
    const frozen = await freeze(
      t.tenantId,
      campaign.id,
      contacts.map((c) => ({ contactId: c.id, phone: c.phone, messageId: campaign.messages[0]?.id as string, abVariant: null, status: 'QUEUED' as const })),
    );
    recipients = frozen.map((r) => ({ id: r.id, phone: r.phone, contactId: r.contactId }));
    // The last recipient is never sent.
    await markSent(
      campaign.id,
      frozen.slice(0, 3).map((r) => ({ id: r.id, instanceId: t.instances[0]?.id as string, sentAt, durationMs: 200, keyId: keyId() })),
    );
  });

  afterAll(async () => {
    await stack.close();
  });

  async function state() {
    const [c] = await prisma.$queryRaw<Array<{ converted: number; value: number; conversions: number; logs: number }>>`
      SELECT converted_count AS converted, conversion_value::float8 AS value,
             (SELECT count(*) FROM conversion WHERE campaign_id = ${campaignId}::uuid)::int AS conversions,
             (SELECT count(*) FROM campaign_log WHERE campaign_id = ${campaignId}::uuid AND type = 'CONVERSION')::int AS logs
      FROM campaign WHERE id = ${campaignId}::uuid`;
    return c;
  }

  it('records a conversion once per external id: counters, recipient, value and log change together', async () => {
    const r = recipients[0] as (typeof recipients)[number];
    const occurredAt = new Date(sentAt.getTime() + 5 * HOUR);
    const input = { recipientId: r.id, value: 250.5, occurredAt: occurredAt.toISOString(), externalId: 'order-1001' };
    const first = await gqlOk(stack.url, t.key, RecordMutation, { input });
    expect(first.recordConversion).toMatchObject({
      __typename: 'RecordConversionSuccess',
      data: { recipientId: r.id, value: 250.5, externalId: 'order-1001', recorded: true, occurredAt: occurredAt.toISOString(), campaign: { id: globalId('Campaign', campaignId) } },
    });
    expect(await state()).toEqual({ converted: 1, value: 250.5, conversions: 1, logs: 1 });
    const rec = await prisma.recipient.findUniqueOrThrow({ where: { id: r.id } });
    expect(rec.convertedAt).toEqual(occurredAt);
    expect(Number(rec.conversionValue)).toBe(250.5);

    // The integrator retries: nothing changes, the first record comes back.
    const again = await gqlOk(stack.url, t.key, RecordMutation, { input });
    expect(again.recordConversion).toMatchObject({ __typename: 'RecordConversionSuccess', data: { recorded: false, value: 250.5 } });
    if (again.recordConversion.__typename === 'RecordConversionSuccess' && first.recordConversion.__typename === 'RecordConversionSuccess') {
      expect(again.recordConversion.data.id).toBe(first.recordConversion.data.id);
    }
    expect(await state()).toEqual({ converted: 1, value: 250.5, conversions: 1, logs: 1 });

    // The same id with another value or recipient is a conflict, and changes nothing either.
    const clash = await gqlOk(stack.url, t.key, RecordMutation, { input: { ...input, value: 99 } });
    expect(clash.recordConversion).toMatchObject({ __typename: 'ConflictError', field: 'externalId' });
    const clash2 = await gqlOk(stack.url, t.key, RecordMutation, { input: { ...input, recipientId: recipients[1]?.id } });
    expect(clash2.recordConversion.__typename).toBe('ConflictError');
    expect(await state()).toEqual({ converted: 1, value: 250.5, conversions: 1, logs: 1 });
  });

  it('a second conversion of the same recipient adds its value but not a converted recipient, and keeps the earliest time', async () => {
    const r = recipients[0] as (typeof recipients)[number];
    const earlier = new Date(sentAt.getTime() + 1 * HOUR);
    const res = await gqlOk(stack.url, t.key, RecordMutation, { input: { recipientId: r.id, value: 49.5, occurredAt: earlier.toISOString() } });
    expect(res.recordConversion).toMatchObject({ __typename: 'RecordConversionSuccess', data: { recorded: true, externalId: null } });
    expect(await state()).toEqual({ converted: 1, value: 300, conversions: 2, logs: 2 });
    const rec = await prisma.recipient.findUniqueOrThrow({ where: { id: r.id } });
    expect(rec.convertedAt).toEqual(earlier);
    expect(Number(rec.conversionValue)).toBe(300);
  });

  it('finds the recipient by campaign and phone, written the way people write it', async () => {
    const r = recipients[1] as (typeof recipients)[number];
    const national = `(${r.phone.slice(3, 5)}) ${r.phone.slice(5, 10)}-${r.phone.slice(10)}`;
    const res = await gqlOk(stack.url, t.key, RecordMutation, { input: { campaignId: globalId('Campaign', campaignId), phone: national, value: 100 } });
    expect(res.recordConversion).toMatchObject({ __typename: 'RecordConversionSuccess', data: { recipientId: r.id, contact: { phone: r.phone } } });
    expect(await state()).toEqual({ converted: 2, value: 400, conversions: 3, logs: 3 });

    const figures = await gqlOk(stack.url, t.key, Revenue, { id: globalId('Campaign', campaignId) });
    // ROI = (400 − 100) / 100; cost per conversion = 100 / 2 converted recipients.
    expect(figures.campaign?.analytics.revenue).toEqual({ cost: 100, conversionValue: 400, roi: 3, costPerConversion: 50 });
    expect(figures.campaign?.analytics.funnel.converted).toBe(2);
    expect(figures.campaign?.counters.converted).toBe(2);
  });

  it('refuses what cannot be attributed, with typed errors, and records nothing', async () => {
    const before = await state();
    const cases: Array<[Record<string, unknown>, string, string[] | null]> = [
      [{ value: 10 }, 'ValidationError', ['input']],
      [{ recipientId: recipients[0]?.id, campaignId: globalId('Campaign', campaignId), phone: recipients[0]?.phone }, 'ValidationError', ['input']],
      [{ campaignId: globalId('Campaign', campaignId) }, 'ValidationError', ['input', 'phone']],
      [{ recipientId: 'not-a-uuid' }, 'ValidationError', ['input', 'recipientId']],
      [{ recipientId: recipients[2]?.id, value: -5 }, 'ValidationError', ['input', 'value']],
      [{ recipientId: recipients[2]?.id, occurredAt: new Date(Date.now() + 2 * HOUR).toISOString() }, 'ValidationError', ['input', 'occurredAt']],
      [{ recipientId: recipients[2]?.id, occurredAt: new Date(sentAt.getTime() - HOUR).toISOString() }, 'ValidationError', ['input', 'occurredAt']],
      [{ recipientId: recipients[3]?.id }, 'ValidationError', ['input', 'recipientId']], // never sent
      [{ campaignId: globalId('Campaign', campaignId), phone: 'not a phone' }, 'ValidationError', ['input', 'phone']],
      [{ recipientId: '00000000-0000-4000-8000-000000000000' }, 'NotFoundError', null],
      [{ campaignId: globalId('Campaign', campaignId), phone: '+5511987650000' }, 'NotFoundError', null],
    ];
    for (const [input, type, path] of cases) {
      const res = await gqlOk(stack.url, t.key, RecordMutation, { input });
      expect(res.recordConversion.__typename, JSON.stringify(input)).toBe(type);
      if (path && res.recordConversion.__typename === 'ValidationError') {
        expect(res.recordConversion.issues.map((i) => i.path)).toContainEqual(path);
      }
    }
    expect(await state()).toEqual(before);
  });

  it('needs an OPERATOR key, and never reaches another tenant', async () => {
    const viewer = await createApiKey(t.tenantId, 'read only', 'VIEWER');
    const denied = await gqlOk(stack.url, viewer.key, RecordMutation, { input: { recipientId: recipients[2]?.id, value: 1 } });
    expect(denied.recordConversion.__typename).toBe('ForbiddenError');

    const other = await tenantWithInstances('Other', 1);
    const byId = await gqlOk(stack.url, other.key, RecordMutation, { input: { recipientId: recipients[2]?.id, value: 1 } });
    expect(byId.recordConversion).toMatchObject({ __typename: 'NotFoundError', resource: 'Recipient' });
    const byPhone = await gqlOk(stack.url, other.key, RecordMutation, { input: { campaignId: globalId('Campaign', campaignId), phone: recipients[2]?.phone } });
    expect(byPhone.recordConversion).toMatchObject({ __typename: 'NotFoundError', resource: 'Campaign' });
    expect((await state())?.conversions).toBe(3);
  });
});
