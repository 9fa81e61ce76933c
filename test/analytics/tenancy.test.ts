import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { graphql } from '../gql/index.js';
import { gql, gqlOk } from '../helpers/graphql.js';
import { globalId } from '../helpers/ids.js';
import { prismaStatements } from '../helpers/queries.js';
import { type Stack, startStack } from '../helpers/stack.js';
import { applyReceipt, campaignWith, contactsFor, freeze, keyId, markSent, tenantWithInstances } from './fixtures.js';

const Everything = graphql(`
  query TenancyEverything($id: ID!) {
    campaign(id: $id) { id analytics { funnel { sent } } abTestResult { status } }
    node(id: $id) { id }
  }
`);

const Mutations = graphql(`
  mutation TenancyMutations($id: ID!, $recipientId: ID!) {
    exportCampaignReport(campaignId: $id) { __typename ... on NotFoundError { resource } }
    chooseAbWinner(campaignId: $id, variant: "A") { __typename ... on NotFoundError { resource } }
    recordConversion(input: { recipientId: $recipientId, value: 10 }) { __typename ... on NotFoundError { resource } }
  }
`);

const Totals = graphql(`
  query TenancyTotals($from: DateTime!, $to: DateTime!) {
    tenantAnalytics(from: $from, to: $to) { totals { campaigns sent } bestInstances { sent } }
  }
`);

const List = graphql(`
  query TenancyList {
    campaigns(first: 10) {
      edges {
        node {
          id
          analytics {
            funnel { sent }
            instances { instance { name } figures { sent delivered } healthIssues }
            variations { message { text } figures { sent } }
            abVariants { variant sample }
            byHourOfDay { hour delivered }
            byWeekday { weekday read }
            timeSeries(bucket: DAY) { start sent }
            topErrors { code count }
            sendDuration { averageMs p95Ms }
            timeline { type }
          }
          abTestResult { status holdOut variants { variant sample } }
        }
      }
    }
  }
`);

const countQueries = async (fn: () => Promise<unknown>) => (await prismaStatements(fn)).length;

describe('analytics are scoped to the tenant', () => {
  let stack: Stack;
  let owner: Awaited<ReturnType<typeof tenantWithInstances>>;
  let campaignId: string;
  let recipientId: string;

  async function addCampaign(t: Awaited<ReturnType<typeof tenantWithInstances>>, recipients: number) {
    const contacts = await contactsFor(t.tenantId, recipients);
    const campaign = await campaignWith(t.tenantId, {
      startedAt: new Date(Date.now() - 3_600_000),
      messages: [
        { text: 'A', abVariant: 'A' },
        { text: 'B', abVariant: 'B' },
      ],
      instanceIds: t.instances.map((i) => i.id),
      ab: { share: 0.5 },
    });
    const frozen = await freeze(
      t.tenantId,
      campaign.id,
      contacts.map((c, i) => {
        const m = campaign.messages[i % 2] as (typeof campaign.messages)[number];
        return i % 3 === 2
          ? { contactId: c.id, phone: c.phone, messageId: null, abVariant: null, status: 'PENDING' as const }
          : { contactId: c.id, phone: c.phone, messageId: m.id, abVariant: m.abVariant, status: 'QUEUED' as const };
      }),
    );
    const sends = frozen
      .filter((r) => r.status === 'QUEUED')
      .map((r, i) => ({ id: r.id, instanceId: (t.instances[i % t.instances.length] as { id: string }).id, sentAt: new Date(Date.now() - 1_800_000), durationMs: 150 + i, keyId: keyId() }));
    await markSent(campaign.id, sends);
    for (const s of sends) await applyReceipt(t.tenantId, s.instanceId, s.keyId, 'READ', new Date());
    return { campaign, sends };
  }

  beforeAll(async () => {
    stack = await startStack({ workers: false });
    owner = await tenantWithInstances('Owner', 2);
    const { campaign, sends } = await addCampaign(owner, 9);
    campaignId = campaign.id;
    recipientId = sends[0]?.id as string;
  });

  afterAll(async () => {
    await stack.close();
  });

  it("another tenant finds nothing of the campaign: no analytics, no A/B result, no report, no conversion, no winner", async () => {
    const intruder = await tenantWithInstances('Intruder', 1);
    const id = globalId('Campaign', campaignId);
    const seen = await gqlOk(stack.url, intruder.key, Everything, { id });
    expect(seen).toEqual({ campaign: null, node: null });
    const own = await gqlOk(stack.url, owner.key, Everything, { id });
    expect(own.campaign?.analytics.funnel.sent).toBe(6);

    const tried = await gqlOk(stack.url, intruder.key, Mutations, { id, recipientId });
    expect(tried).toEqual({
      exportCampaignReport: { __typename: 'NotFoundError', resource: 'Campaign' },
      chooseAbWinner: { __typename: 'NotFoundError', resource: 'Campaign' },
      recordConversion: { __typename: 'NotFoundError', resource: 'Recipient' },
    });
    const report = await fetch(`${stack.url}/exports/campaigns/${campaignId}/report.csv`, { headers: { authorization: `Bearer ${intruder.key}` } });
    expect(report.status).toBe(404);
    expect(await prisma.conversion.count({ where: { campaignId } })).toBe(0);
    expect(await prisma.recipient.count({ where: { campaignId, status: 'PENDING' } })).toBe(3);

    const period = { from: new Date(Date.now() - 86_400_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() };
    expect((await gqlOk(stack.url, intruder.key, Totals, period)).tenantAnalytics).toEqual({ totals: { campaigns: 0, sent: 0 }, bestInstances: [] });
    expect((await gqlOk(stack.url, owner.key, Totals, period)).tenantAnalytics.totals).toEqual({ campaigns: 1, sent: 6 });
  });

  it('a list of campaigns with every analytics field costs the same number of SQL statements for 1 or 8 campaigns', async () => {
    const one = await tenantWithInstances('One', 2);
    await addCampaign(one, 6);
    const eight = await tenantWithInstances('Eight', 2);
    for (let i = 0; i < 8; i++) await addCampaign(eight, 6);

    // Warm up both keys first (a key's first use also writes its lastUsedAt).
    await gqlOk(stack.url, one.key, List);
    await gqlOk(stack.url, eight.key, List);
    let small = 0;
    const q1 = await countQueries(async () => {
      const r = await gqlOk(stack.url, one.key, List);
      small = r.campaigns.edges.length;
    });
    let big = 0;
    const q8 = await countQueries(async () => {
      const r = await gql(stack.url, eight.key, List);
      expect(r.errors).toBeUndefined();
      big = r.data?.campaigns.edges.length ?? 0;
      expect(r.data?.campaigns.edges.every((e) => e.node.analytics.funnel.sent === 4 && e.node.abTestResult.holdOut === 2)).toBe(true);
    });
    expect([small, big]).toEqual([1, 8]);
    expect(q8).toBe(q1);
  });
});
