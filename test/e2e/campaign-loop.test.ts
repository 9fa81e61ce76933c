import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { graphql } from '../gql/index.js';
import { addContacts, addSender, newTenant, phones } from '../helpers/factories.js';
import { collect, gqlOk, wsClient } from '../helpers/graphql.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';

const CreateCampaign = graphql(`
  mutation CreateLoopCampaign($input: CreateCampaignInput!) {
    createCampaign(input: $input) {
      __typename
      ... on CreateCampaignSuccess { data { id status } }
      ... on ValidationError { issues { path message } }
    }
  }
`);

const StartCampaign = graphql(`
  mutation StartLoopCampaign($id: ID!) {
    startCampaign(id: $id) {
      __typename
      ... on StartCampaignSuccess { data { id status counters { targeted } } }
      ... on Error { message }
    }
  }
`);

const CampaignQuery = graphql(`
  query LoopCampaign($id: ID!) {
    campaign(id: $id) {
      status
      counters { targeted sent delivered read failed skipped unknown remaining percentDone }
    }
  }
`);

const Progress = graphql(`
  subscription LoopProgress($campaignId: ID!) {
    campaignProgress(campaignId: $campaignId) {
      status
      percentDone
      counters { targeted sent delivered read failed remaining }
    }
  }
`);

describe('a campaign runs end to end', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ sim: { noReadRate: 0.4, seed: 11 } });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('sends 50 messages once each, and the subscriber sees progress to 100% with receipts applied', async () => {
    const { key } = await newTenant('Loop');
    const sender = await addSender(stack, key);
    const numbers = phones(50, 1);
    const added = await addContacts(stack, key, numbers.map((phone, i) => ({ phone, name: `Contato ${i}` })));
    expect(added).toMatchObject({ created: 50, failed: 0 });

    const created = await gqlOk(stack.url, key, CreateCampaign, {
      input: {
        name: 'Loop',
        messages: [{ text: '{{saudacao}}, {{primeiro_nome}}! Temos novidades.' }],
        audience: { all: true },
        instanceIds: [sender.instanceId],
      },
    });
    if (created.createCampaign.__typename !== 'CreateCampaignSuccess') throw new Error(JSON.stringify(created));
    const campaignId = created.createCampaign.data.id;

    // Subscribe before starting: the first event is the current (DRAFT) state.
    const ws = wsClient(stack.url, key);
    const watching = collect(ws, Progress, { campaignId }, (events) => {
      const last = events.at(-1)?.campaignProgress;
      return !!last && last.status === 'COMPLETED' && last.counters.delivered === 50;
    });
    await new Promise((r) => setTimeout(r, 200));

    const started = await gqlOk(stack.url, key, StartCampaign, { id: campaignId });
    expect(started.startCampaign).toMatchObject({ __typename: 'StartCampaignSuccess', data: { status: 'RUNNING', counters: { targeted: 50 } } });

    const { events, errors } = await watching;
    await ws.client.dispose();
    expect(errors).toEqual([]);
    const percents = events.map((e) => e.campaignProgress.percentDone);
    expect(percents[0]).toBe(0);
    expect(percents.at(-1)).toBe(100);
    expect([...percents].sort((a, b) => a - b)).toEqual(percents); // never goes backwards
    expect(events.length).toBeGreaterThan(2);

    // Receipts keep arriving after the last send: wait until the simulator has nothing left to send.
    await stack.sim.drain();
    const sends = stack.sim.sends.filter((s) => s.instance === sender.name);
    const expectedRead = sends.filter((s) => s.final === 'READ').length;
    await waitFor(async () => {
      const c = await gqlOk(stack.url, key, CampaignQuery, { id: campaignId });
      return c.campaign?.counters.read === expectedRead;
    });

    // The simulator accepted exactly one send per recipient.
    expect(sends).toHaveLength(50);
    expect(new Set(sends.map((s) => s.number)).size).toBe(50);
    expect(new Set(sends.map((s) => `+${s.number}`))).toEqual(new Set(numbers));
    expect(sends.every((s) => /^(Bom dia|Boa tarde|Boa noite), Contato!/.test(s.text ?? ''))).toBe(true);

    // Every recipient ends as the simulator decided.
    const campaignUuid = Buffer.from(campaignId, 'base64').toString().split(':')[1] as string;
    const recipients = await prisma.recipient.findMany({ where: { campaignId: campaignUuid } });
    const byKey = new Map(sends.map((s) => [s.keyId, s.final]));
    for (const r of recipients) {
      const final = byKey.get(r.providerMessageId ?? '');
      expect(final, `recipient ${r.phone}`).toBeDefined();
      expect(r.status).toBe(final === 'READ' ? 'READ' : 'DELIVERED');
      expect(r.sentAt).not.toBeNull();
      expect(r.deliveredAt).not.toBeNull();
    }
    expect(expectedRead).toBeGreaterThan(0);
    expect(expectedRead).toBeLessThan(50);

    // Counters equal a recount of the recipients.
    const [recount] = await prisma.$queryRaw<Array<Record<string, number>>>`
      SELECT count(*)::int AS targeted,
             count(sent_at)::int AS sent,
             count(delivered_at)::int AS delivered,
             count(read_at)::int AS read,
             count(*) FILTER (WHERE status = 'FAILED')::int AS failed,
             count(*) FILTER (WHERE status = 'SKIPPED')::int AS skipped,
             count(*) FILTER (WHERE status = 'UNKNOWN')::int AS unknown,
             count(*) FILTER (WHERE status IN ('QUEUED', 'SENDING'))::int AS remaining
      FROM recipient WHERE campaign_id = ${campaignUuid}::uuid`;
    const final = await gqlOk(stack.url, key, CampaignQuery, { id: campaignId });
    expect(final.campaign?.status).toBe('COMPLETED');
    expect(final.campaign?.counters).toMatchObject(recount as Record<string, number>);
    expect(recount).toMatchObject({ targeted: 50, sent: 50, delivered: 50, read: expectedRead, failed: 0, remaining: 0 });
  });
});
