import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateCampaign } from '../../src/features/ab/evaluate.js';
import { prisma } from '../../src/infra/db/client.js';
import { enqueue } from '../../src/infra/queues/index.js';
import { graphql } from '../gql/index.js';
import { addContacts, addSender, newTenant, phones } from '../helpers/factories.js';
import { gqlOk } from '../helpers/graphql.js';
import { globalId, uuidOf } from '../helpers/ids.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';
import { applyReceipt, campaignWith, contactsFor, freeze, keyId, markSent, tenantWithInstances } from './fixtures.js';

const Create = graphql(`
  mutation AbCreate($input: CreateCampaignInput!) {
    createCampaign(input: $input) {
      __typename
      ... on CreateCampaignSuccess { data { id messages { id abVariant } } }
      ... on ValidationError { issues { path message } }
      ... on Error { message }
    }
  }
`);

const Start = graphql(`
  mutation AbStart($id: ID!) {
    startCampaign(id: $id) {
      __typename
      ... on StartCampaignSuccess { data { id status } }
      ... on Error { message }
    }
  }
`);

const Choose = graphql(`
  mutation AbChoose($id: ID!, $variant: String!) {
    chooseAbWinner(campaignId: $id, variant: $variant) {
      __typename
      ... on ChooseAbWinnerSuccess { data { id status } }
      ... on ConflictError { message }
      ... on ValidationError { issues { path message } }
      ... on Error { message }
    }
  }
`);

const Result = graphql(`
  query AbResult($id: ID!) {
    campaign(id: $id) {
      status
      counters { targeted sent delivered read remaining }
      abTestResult {
        status reason metric minSample significance testShare confidence decidedAt automatic released holdOut
        variants { variant sample successes metricRate message { id } figures { targeted sent delivered read } }
        winner { variant sample successes }
      }
      analytics { variations { message { id } figures { targeted sent } } }
    }
  }
`);

/** Pooled two-proportion z-test, written out here independently of src/domain. */
function confidence(x1: number, n1: number, x2: number, n2: number) {
  const p = (x1 + x2) / (n1 + n2);
  const z = Math.abs(x1 / n1 - x2 / n2) / Math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2));
  // Two-sided p-value from the complementary error function (Abramowitz–Stegun 7.1.26).
  const x = z / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-x * x);
  return 1 - erfc;
}

function envelope(instance: string, keyId: string, status: string) {
  return {
    event: 'messages.update',
    instance,
    data: { keyId, remoteJid: '5511999999999@s.whatsapp.net', fromMe: true, status, instanceId: 'b6c1f0d2-7a1e-4c1b-9d5e-3f2a1b0c9d8e' },
    destination: 'http://receiver.example',
    date_time: new Date().toISOString(),
    sender: '5511900000000@s.whatsapp.net',
    server_url: 'http://evolution.example',
    apikey: 'INSTANCE-TOKEN',
  };
}

describe('A/B tests', () => {
  let stack: Stack;
  beforeAll(async () => {
    // Everything is delivered and nothing is read by the simulator: reads come only from this test.
    stack = await startStack({ sim: { noReadRate: 1, seed: 3 } });
  });
  afterAll(async () => {
    await stack.close();
  });

  async function startAbCampaign(key: string, instanceId: string, minSample: number) {
    const created = await gqlOk(stack.url, key, Create, {
      input: {
        name: `A/B ${minSample}`,
        messages: [
          { text: 'Variante A: 10% de desconto hoje', abVariant: 'A' },
          { text: 'Variante B: frete grátis hoje', abVariant: 'B' },
        ],
        abTest: { enabled: true, testShare: 0.5, metric: 'READ_RATE', minSample, significance: 0.95, autoWinner: true },
        audience: { all: true },
        instanceIds: [instanceId],
      },
    });
    if (created.createCampaign.__typename !== 'CreateCampaignSuccess') throw new Error(JSON.stringify(created));
    const { id, messages } = created.createCampaign.data;
    const started = await gqlOk(stack.url, key, Start, { id });
    expect(started.startCampaign.__typename).toBe('StartCampaignSuccess');
    const campaignId = uuidOf(id);
    // The test group (half the audience) goes out; the hold-out waits without a variation.
    await waitFor(async () => {
      const [row] = await prisma.$queryRaw<Array<{ busy: number; undelivered: number; held: number }>>`
        SELECT count(*) FILTER (WHERE status IN ('QUEUED', 'SENDING'))::int AS busy,
               count(*) FILTER (WHERE ab_variant IS NOT NULL AND delivered_at IS NULL)::int AS undelivered,
               count(*) FILTER (WHERE status = 'PENDING' AND message_id IS NULL)::int AS held
        FROM recipient WHERE campaign_id = ${campaignId}::uuid`;
      return row && row.busy === 0 && row.undelivered === 0 && row.held > 0;
    }, 60_000);
    const messageOf = new Map(messages.map((m) => [m.abVariant as string, m.id]));
    return { id, campaignId, messageOf };
  }

  /** Reads the first `share` of a variant's test recipients (by seq) through the webhook route. */
  async function read(campaignId: string, sender: { name: string; webhookUrl: string }, variant: string, share: number) {
    const rows = await prisma.$queryRaw<Array<{ provider_message_id: string }>>`
      SELECT provider_message_id FROM recipient WHERE campaign_id = ${campaignId}::uuid AND ab_variant = ${variant} ORDER BY seq`;
    const chosen = rows.slice(0, Math.floor(rows.length * share));
    for (const r of chosen) {
      const res = await fetch(sender.webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(envelope(sender.name, r.provider_message_id, 'READ')) });
      expect(res.status).toBeLessThan(300);
    }
    return { reads: chosen.length, sample: rows.length };
  }

  it('declares B the winner at the configured significance and sends it to the rest', async () => {
    const { key } = await newTenant('AB winner');
    const sender = await addSender(stack, key);
    const numbers = phones(200, 41);
    await addContacts(stack, key, numbers.map((phone, i) => ({ phone, name: `Pessoa ${i}` })));
    const { id, campaignId, messageOf } = await startAbCampaign(key, sender.instanceId, 30);

    // Delivered everywhere, read nowhere: every variant has the sample, and they are tied.
    let result = (await gqlOk(stack.url, key, Result, { id })).campaign;
    expect(result?.abTestResult).toMatchObject({ status: 'NO_SIGNIFICANT_WINNER', holdOut: 100, winner: null, metric: 'READ_RATE', minSample: 30, testShare: 0.5 });
    expect(result?.abTestResult.reason).toContain('tied');

    const b = await read(campaignId, sender, 'B', 0.6);
    const a = await read(campaignId, sender, 'A', 0.3);
    expect(a.sample + b.sample).toBe(100);
    expect(Math.min(a.sample, b.sample)).toBeGreaterThanOrEqual(30);
    await waitFor(async () => (await gqlOk(stack.url, key, Result, { id })).campaign?.counters.read === a.reads + b.reads);

    const expected = confidence(b.reads, b.sample, a.reads, a.sample);
    expect(expected).toBeGreaterThan(0.95);
    result = (await gqlOk(stack.url, key, Result, { id })).campaign;
    expect(result?.abTestResult).toMatchObject({ status: 'WINNER', winner: { variant: 'B', sample: b.sample, successes: b.reads }, holdOut: 100 });
    expect(result?.abTestResult.confidence).toBeCloseTo(expected, 4);
    expect(result?.abTestResult.variants.map((v) => [v.variant, v.sample, v.successes])).toEqual([
      ['A', a.sample, a.reads],
      ['B', b.sample, b.reads],
    ]);

    // The periodic evaluation (run now rather than waiting for its schedule) releases the hold-out.
    await enqueue('maintenance', 'maintenance:ab-evaluate', {});
    await waitFor(async () => {
      const c = (await gqlOk(stack.url, key, Result, { id })).campaign;
      return c?.status === 'COMPLETED' && c.counters.sent === 200;
    }, 60_000);

    const holdOut = await prisma.recipient.findMany({ where: { campaignId, abVariant: null }, select: { phone: true, messageId: true, status: true } });
    expect(holdOut).toHaveLength(100);
    expect(holdOut.every((r) => r.messageId === messageOf.get('B'))).toBe(true);
    const sends = stack.sim.sends.filter((s) => s.instance === sender.name);
    expect(sends).toHaveLength(200);
    expect(new Set(sends.map((s) => s.number)).size).toBe(200);
    const textTo = new Map(sends.map((s) => [`+${s.number}`, s.text]));
    for (const r of holdOut) expect(textTo.get(r.phone)).toBe('Variante B: frete grátis hoje');

    const log = await prisma.campaignLog.findMany({ where: { campaignId, type: 'AB_WINNER' } });
    expect(log).toHaveLength(1);
    expect(log[0]?.details).toMatchObject({ winner: 'B', metric: 'READ_RATE', automatic: true, released: 100, significance: 0.95 });
    expect((log[0]?.details as { confidence: number }).confidence).toBeCloseTo(expected, 4);
    expect(log[0]?.message).toContain('variant B won on READ_RATE');

    result = (await gqlOk(stack.url, key, Result, { id })).campaign;
    expect(result?.abTestResult).toMatchObject({ status: 'DECIDED', automatic: true, released: 100, holdOut: 0, winner: { variant: 'B', sample: b.sample } });
    expect(result?.abTestResult.decidedAt).not.toBeNull();
    // Variant figures stay those of the test group; the variation's figures include the hold-out.
    const bVariation = result?.analytics.variations.find((v) => v.message?.id === messageOf.get('B'));
    expect(bVariation?.figures).toEqual({ targeted: b.sample + 100, sent: b.sample + 100 });

    // Deciding again changes nothing.
    expect(await evaluateCampaign((await prisma.campaign.findUniqueOrThrow({ where: { id: campaignId } })).tenantId, campaignId)).toBe('nothing to decide');
    const again = await gqlOk(stack.url, key, Choose, { id, variant: 'A' });
    expect(again.chooseAbWinner.__typename).toBe('ConflictError');
  });

  it('declares no winner while a variant is below the minimum sample, however big the difference', async () => {
    const { key, tenantId } = await newTenant('AB too small');
    const sender = await addSender(stack, key);
    await addContacts(stack, key, phones(80, 42).map((phone) => ({ phone })));
    const { id, campaignId, messageOf } = await startAbCampaign(key, sender.instanceId, 50);
    const b = await read(campaignId, sender, 'B', 0.9);
    await waitFor(async () => (await gqlOk(stack.url, key, Result, { id })).campaign?.counters.read === b.reads);

    const result = (await gqlOk(stack.url, key, Result, { id })).campaign;
    expect(result?.abTestResult).toMatchObject({ status: 'COLLECTING', winner: null, confidence: null, holdOut: 40 });
    expect(result?.abTestResult.reason).toContain('minimum sample of 50 delivered messages');

    expect(await evaluateCampaign(tenantId, campaignId)).toMatch(/^no winner: waiting for the minimum sample/);
    await enqueue('maintenance', 'maintenance:ab-evaluate', {});
    await new Promise((r) => setTimeout(r, 1500));
    const held = await prisma.recipient.count({ where: { campaignId, status: 'PENDING', messageId: null } });
    expect(held).toBe(40);
    expect(await prisma.campaignLog.count({ where: { campaignId, type: 'AB_WINNER' } })).toBe(0);
    expect((await prisma.campaign.findUniqueOrThrow({ where: { id: campaignId } })).status).toBe('RUNNING');

    // An operator may still choose; the hold-out then gets that variant.
    const chosen = await gqlOk(stack.url, key, Choose, { id, variant: 'A' });
    expect(chosen.chooseAbWinner).toMatchObject({ __typename: 'ChooseAbWinnerSuccess' });
    await waitFor(async () => (await gqlOk(stack.url, key, Result, { id })).campaign?.status === 'COMPLETED', 60_000);
    const holdOut = await prisma.recipient.findMany({ where: { campaignId, abVariant: null }, select: { messageId: true } });
    expect(holdOut.every((r) => r.messageId === messageOf.get('A'))).toBe(true);
    const after = (await gqlOk(stack.url, key, Result, { id })).campaign?.abTestResult;
    expect(after).toMatchObject({ status: 'DECIDED', automatic: false, released: 40, confidence: null, winner: { variant: 'A' } });
  });

  it('without a test share only reports the winner: nothing is held back or released', async () => {
    const t = await tenantWithInstances('AB report only', 1);
    const contacts = await contactsFor(t.tenantId, 120);
    const campaign = await campaignWith(t.tenantId, {
      startedAt: new Date(Date.now() - 3_600_000),
      messages: [
        { text: 'A', abVariant: 'A' },
        { text: 'B', abVariant: 'B' },
      ],
      instanceIds: [t.instances[0]?.id as string],
      ab: { share: 0, minSample: 40 },
    });
    const frozen = await freeze(
      t.tenantId,
      campaign.id,
      contacts.map((c, i) => {
        const m = campaign.messages[i % 2] as (typeof campaign.messages)[number];
        return { contactId: c.id, phone: c.phone, messageId: m.id, abVariant: m.abVariant, status: 'QUEUED' as const };
      }),
    );
    const sends = frozen.map((r) => ({ id: r.id, instanceId: t.instances[0]?.id as string, sentAt: new Date(Date.now() - 3_000_000), durationMs: 100, keyId: keyId(), variant: r.abVariant }));
    await markSent(campaign.id, sends);
    let readA = 0;
    let readB = 0;
    for (const [i, s] of sends.entries()) {
      const readIt = s.variant === 'B' ? i % 10 < 7 : i % 10 < 2;
      if (readIt) s.variant === 'B' ? readB++ : readA++;
      await applyReceipt(t.tenantId, s.instanceId, s.keyId, readIt ? 'READ' : 'DELIVERY_ACK', new Date());
    }
    const result = (await gqlOk(stack.url, t.key, Result, { id: globalId('Campaign', campaign.id) })).campaign?.abTestResult;
    expect(result).toMatchObject({ status: 'WINNER', winner: { variant: 'B', successes: readB }, holdOut: 0, testShare: 0 });
    expect(result?.confidence).toBeCloseTo(confidence(readB, 60, readA, 60), 4);
    expect(await evaluateCampaign(t.tenantId, campaign.id)).toBe('nothing to decide');
    expect((await prisma.campaign.findUniqueOrThrow({ where: { id: campaign.id } })).abDecidedAt).toBeNull();
  });
});
