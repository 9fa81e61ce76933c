import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pauseCampaign, resumeCampaign } from '../../src/features/campaigns/lifecycle.js';
import { goKey, paceKey, passedGate, passGate, waitAtGate } from '../../src/features/dispatch/pace.js';
import { prisma } from '../../src/infra/db/client.js';
import { createRedis } from '../../src/infra/redis.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';
import { insertContacts, newCampaign, numbers, uuidOf } from './helpers.js';

describe('the pace gate', () => {
  let stack: Stack;
  const redis = createRedis('command');
  beforeAll(async () => {
    stack = await startStack({ workers: false });
  });
  afterAll(async () => {
    await redis.quit();
    await stack.close();
  });

  /** A campaign RUNNING in PostgreSQL (no worker sends it here), with its instance. */
  async function runningCampaign() {
    const { tenantId, key } = await newTenant('Pace gate');
    const sender = await addSender(stack, key);
    const instanceId = uuidOf(sender.instanceId);
    await insertContacts(tenantId, numbers(3, 60 + Math.floor(Math.random() * 30)).map((phone) => ({ phone })));
    const campaignId = await newCampaign(tenantId, [instanceId]);
    await prisma.campaign.update({ where: { id: campaignId }, data: { status: 'RUNNING' } });
    return { tenantId, instanceId, campaignId };
  }

  it('lets one call of a paced instance through at a time, and the next a gap after its answer', async () => {
    const { tenantId, instanceId, campaignId } = await runningCampaign();
    const pace = { minDelayMs: 400, maxDelayMs: 600, typingDelayMs: 300 };
    // A first send waits a gap too: the gate cannot tell a new instance from one whose key Redis lost.
    expect((await passGate(redis, tenantId, instanceId, campaignId, pace, 2, 5000)).kind).toBe('wait');
    const first = await waitAtGate(redis, tenantId, instanceId, campaignId, pace, 2, 5000);
    expect(first).toMatchObject({ kind: 'granted', count: 1 });
    // While the call is in flight, the next waits (asked again every 20 ms at most).
    const during = await passGate(redis, tenantId, instanceId, campaignId, pace, 1, 5000);
    expect(during.kind).toBe('wait');
    await passedGate(redis, first.kind === 'granted' ? first.ticket : null);
    // Answered: the next waits the drawn gap, within [minDelayMs, maxDelayMs] of the answer.
    const after = await passGate(redis, tenantId, instanceId, campaignId, pace, 1, 5000);
    expect(after.kind).toBe('wait');
    const ms = after.kind === 'wait' ? after.ms : 0;
    expect(ms).toBeGreaterThan(400 - 200);
    expect(ms).toBeLessThanOrEqual(600);
  });

  it('frees the gate when a call never reports its answer, a gap after its time limit', async () => {
    const { tenantId, instanceId, campaignId } = await runningCampaign();
    const pace = { minDelayMs: 100, maxDelayMs: 100, typingDelayMs: 0 };
    expect((await waitAtGate(redis, tenantId, instanceId, campaignId, pace, 1, 1000)).kind).toBe('granted');
    expect((await passGate(redis, tenantId, instanceId, campaignId, pace, 1, 1000)).kind).toBe('wait');
    await new Promise((r) => setTimeout(r, 1200));
    await waitFor(async () => (await passGate(redis, tenantId, instanceId, campaignId, pace, 1, 1000)).kind === 'granted', 5000, 20);
  });

  it('with no delays and no typing, grants a whole chunk at once and keeps nothing', async () => {
    const { tenantId, instanceId, campaignId } = await runningCampaign();
    const pace = { minDelayMs: 0, maxDelayMs: 0, typingDelayMs: 0 };
    expect(await passGate(redis, tenantId, instanceId, campaignId, pace, 16, 5000)).toEqual({ kind: 'granted', count: 16, ticket: null });
    expect(await passGate(redis, tenantId, instanceId, campaignId, pace, 16, 5000)).toEqual({ kind: 'granted', count: 16, ticket: null });
    expect(await redis.exists(paceKey(tenantId, instanceId))).toBe(0);
  });

  it('after Redis lost the gate key, the next send waits a full minDelayMs from then', async () => {
    const { tenantId, instanceId, campaignId } = await runningCampaign();
    const pace = { minDelayMs: 500, maxDelayMs: 500, typingDelayMs: 0 };
    const first = await waitAtGate(redis, tenantId, instanceId, campaignId, pace, 1, 5000);
    await passedGate(redis, first.kind === 'granted' ? first.ticket : null);
    await redis.del(paceKey(tenantId, instanceId));
    const a = await passGate(redis, tenantId, instanceId, campaignId, pace, 1, 5000);
    expect(a.kind).toBe('wait');
    expect(a.kind === 'wait' ? a.ms : 0).toBeGreaterThan(400);
  });

  it("stops a paused campaign's senders, reads PostgreSQL when Redis lost the go mark, and lets them through after resume", async () => {
    const { tenantId, instanceId, campaignId } = await runningCampaign();
    const pace = { minDelayMs: 0, maxDelayMs: 0, typingDelayMs: 0 };
    expect((await passGate(redis, tenantId, instanceId, campaignId, pace, 1, 5000)).kind).toBe('granted');
    expect(await redis.exists(goKey(tenantId, campaignId))).toBe(1);
    // Redis lost the mark: the campaign is RUNNING in PostgreSQL, so the sender passes and the mark is back.
    await redis.del(goKey(tenantId, campaignId));
    expect((await passGate(redis, tenantId, instanceId, campaignId, pace, 1, 5000)).kind).toBe('granted');
    expect(await redis.exists(goKey(tenantId, campaignId))).toBe(1);

    expect(await pauseCampaign(tenantId, campaignId, 'test')).toEqual([]);
    expect(await redis.exists(goKey(tenantId, campaignId))).toBe(0);
    expect(await passGate(redis, tenantId, instanceId, campaignId, pace, 1, 5000)).toEqual({ kind: 'stopped' });
    expect(await redis.exists(goKey(tenantId, campaignId))).toBe(0);

    await resumeCampaign(tenantId, campaignId, 'test');
    expect((await passGate(redis, tenantId, instanceId, campaignId, pace, 1, 5000)).kind).toBe('granted');
  });
});
