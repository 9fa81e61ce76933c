import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/features/auth/api-keys.js';
import { bumpCampaign } from '../../src/features/campaigns/progress.js';
import { inTransaction } from '../../src/infra/db/transaction.js';
import { Prisma } from '../../src/generated/prisma/client.js';
import { sharedStreamCount } from '../../src/infra/realtime/shared-subscriptions.js';
import { graphql } from '../gql/index.js';
import { wsClient, type WsHandle } from '../helpers/graphql.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';
import { seedCampaign } from '../webhooks/fixtures.js';
import { tenantWithInstance } from '../webhooks/senders.js';
import { failure, gid, live } from './live.js';

const Progress = graphql(`
  subscription ShProgress($campaignId: ID!) {
    campaignProgress(campaignId: $campaignId) { status counters { sent delivered } }
  }
`);

const Logs = graphql(`
  subscription ShLogs($campaignId: ID!) {
    campaignLogs(campaignId: $campaignId) { message }
  }
`);

async function deliverOne(campaignId: string) {
  await inTransaction((tx, after) => bumpCampaign(tx, after, campaignId, { delivered: 1 }, [Prisma.sql`status = 'RUNNING'`]));
}

describe('state subscriptions shared by identical operations', () => {
  let stack: Stack;
  const handles: WsHandle[] = [];
  const client = (key: string) => {
    const h = wsClient(stack.url, key);
    handles.push(h);
    return h;
  };

  beforeAll(async () => {
    stack = await startStack({ workers: false });
  });
  afterAll(async () => {
    for (const h of handles) await h.client.dispose();
    await stack.close();
  });

  it('run one stream for many subscribers, who all get every state; a late one starts from the current state', async () => {
    const s = await tenantWithInstance();
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 5, campaignStatus: 'RUNNING' });
    const campaignId = gid('Campaign', c.campaignId);
    const before = sharedStreamCount();

    const a = live(client(s.key), Progress, { campaignId });
    const b = live(client(s.key), Progress, { campaignId });
    await a.until((e) => e.length >= 1);
    await b.until((e) => e.length >= 1);
    expect(sharedStreamCount()).toBe(before + 1);

    await deliverOne(c.campaignId);
    await a.until((e) => e.some((x) => x.campaignProgress.counters.delivered === 1));
    await b.until((e) => e.some((x) => x.campaignProgress.counters.delivered === 1));

    // A late subscriber gets the current state first, then what follows.
    const late = live(client(s.key), Progress, { campaignId });
    const first = await late.until((e) => e.length >= 1);
    expect(first[0]?.campaignProgress.counters.delivered).toBe(1);
    await deliverOne(c.campaignId);
    for (const l of [a, b, late]) await l.until((e) => e.some((x) => x.campaignProgress.counters.delivered === 2));
    expect(sharedStreamCount()).toBe(before + 1);

    // Leaving one subscriber does not end the others; the stream closes with the last one.
    await a.stop();
    await deliverOne(c.campaignId);
    await b.until((e) => e.some((x) => x.campaignProgress.counters.delivered === 3));
    await late.until((e) => e.some((x) => x.campaignProgress.counters.delivered === 3));
    await b.stop();
    await late.stop();
    await waitFor(async () => sharedStreamCount() === before, 5000);
  });

  it('never shares across tenants or roles, and never shares event streams such as logs', async () => {
    const s = await tenantWithInstance();
    const other = await tenantWithInstance();
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 2, campaignStatus: 'RUNNING' });
    const campaignId = gid('Campaign', c.campaignId);
    const before = sharedStreamCount();

    const owner = live(client(s.key), Progress, { campaignId });
    await owner.until((e) => e.length >= 1);
    // The same operation from another tenant is refused, not attached to the owner's stream.
    const intruder = live(client(other.key), Progress, { campaignId });
    expect((await failure(intruder)).extensions?.code ?? (await failure(intruder)).message).toMatch(/NOT_FOUND|not found/);
    expect(intruder.events).toEqual([]);

    // Another role of the same tenant gets a stream of its own (fields may be authorised per role).
    const viewerKey = (await createApiKey(s.tenantId, 'ro', 'VIEWER')).key;
    const viewer = live(client(viewerKey), Progress, { campaignId });
    await viewer.until((e) => e.length >= 1);
    expect(sharedStreamCount()).toBe(before + 2);

    // Log lines are events, not states: each subscriber has its own stream.
    const l1 = live(client(s.key), Logs, { campaignId });
    const l2 = live(client(s.key), Logs, { campaignId });
    await new Promise((r) => setTimeout(r, 500));
    expect(sharedStreamCount()).toBe(before + 2);

    await deliverOne(c.campaignId);
    await owner.until((e) => e.some((x) => x.campaignProgress.counters.delivered === 1));
    await viewer.until((e) => e.some((x) => x.campaignProgress.counters.delivered === 1));
    for (const l of [owner, intruder, viewer, l1, l2]) await l.stop();
  });
});
