import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localDay } from '../../src/infra/lib/local-time.js';
import { createRedis, tenantKey } from '../../src/infra/redis.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';
import { sendsMade, startWorker, waitForStart, type WorkerProcess } from '../helpers/worker-process.js';
import { campaignRow, expectCountersMatchRecount, expectNoDuplicate, insertContacts, logsOf, newRunningCampaign, numbers, sendsTo, statusCounts, uuidOf } from './helpers.js';

describe("a campaign's own caps, over all its instances, held across two worker processes", () => {
  let stack: Stack;
  const workers: WorkerProcess[] = [];
  const redis = createRedis('command');
  beforeAll(async () => {
    stack = await startStack({ workers: false, sim: { noReadRate: 1, latencyMs: 5 } });
    for (let i = 0; i < 2; i++) workers.push(startWorker());
    await waitForStart(workers);
  }, 120_000);
  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    await redis.quit();
    await stack?.close();
  });

  it('two instances of 10 a minute each, a campaign cap of 6 a minute: no 60 s holds more than 6, even after Redis lost the campaign\'s state', async () => {
    const { tenantId, key } = await newTenant('Campaign cap');
    const opts = { limitPerMinute: 10, limitPerHour: 1000, minDelayMs: 200, maxDelayMs: 400 };
    const a = await addSender(stack, key, opts);
    const b = await addSender(stack, key, opts);
    const phones = numbers(10, 90);
    await insertContacts(tenantId, phones.map((phone) => ({ phone })));
    const sentBefore = workers.map(sendsMade);
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(a.instanceId), uuidOf(b.instanceId)], {
      rotationMode: 'ROUND_ROBIN',
      pacing: { limitPerMinute: 6 },
    });

    // The first minute's six went; Redis loses the campaign's limiter state (its slots, marker and
    // day): it is rebuilt from PostgreSQL's sends, and the cap still holds.
    await waitFor(async () => sendsTo(stack.sim.sends, phones).length >= 6, 60_000, 50);
    const day = localDay(new Date(), 'America/Sao_Paulo');
    await redis.del(tenantKey(tenantId, 'climit', campaignId, 'slots'), tenantKey(tenantId, 'climit', campaignId, 'seeded'), tenantKey(tenantId, 'climit', campaignId, 'day', day));

    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 150_000, 250);
    const sends = sendsTo(stack.sim.sends, phones);
    expect(sends).toHaveLength(10);
    expectNoDuplicate(sends);
    // Both instances sent: the cap is the campaign's, over both (each alone would allow 10).
    expect(new Set(sends.map((s) => s.instance))).toEqual(new Set([a.name, b.name]));
    const times = sends.map((s) => Date.parse(s.at)).sort((x, y) => x - y);
    // In any 59 s (a second of tolerance for the dispatch latency between a slot and its request) at
    // most 6 sends; the 7th waited for the first minute to pass.
    for (let i = 0; i < times.length; i++) {
      const inWindow = times.filter((t) => t >= (times[i] as number) && t < (times[i] as number) + 59_000).length;
      expect(inWindow, `sends in the 59 s from send ${i}`).toBeLessThanOrEqual(6);
    }
    expect((times[6] as number) - (times[0] as number)).toBeGreaterThanOrEqual(59_000);
    // The sends were made by the worker processes (they pull jobs from the same queue).
    const byProcess = workers.map((w, i) => sendsMade(w) - (sentBefore[i] as number));
    expect(byProcess.reduce((x, y) => x + y, 0)).toBe(10);
    // The campaign's state was rebuilt (its marker is back).
    expect(await redis.exists(tenantKey(tenantId, 'climit', campaignId, 'seeded'))).toBe(1);
    await expectCountersMatchRecount(campaignId);
  }, 200_000);

  it("a daily cap: the campaign sends that many in the tenant's day, says so once, and waits for the next day", async () => {
    const { tenantId, key } = await newTenant('Campaign day cap');
    const a = await addSender(stack, key);
    const b = await addSender(stack, key);
    const phones = numbers(5, 91);
    await insertContacts(tenantId, phones.map((phone) => ({ phone })));
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(a.instanceId), uuidOf(b.instanceId)], { pacing: { limitPerDay: 3 } });

    await waitFor(async () => (await logsOf(campaignId, 'LIMIT_REACHED')).length > 0, 30_000, 100);
    // Give any send still scheduled time to run: none goes past the cap.
    await new Promise((r) => setTimeout(r, 3000));
    expect(sendsTo(stack.sim.sends, phones)).toHaveLength(3);
    expect((await statusCounts(campaignId)).QUEUED).toBe(2);
    expect((await campaignRow(campaignId)).status).toBe('RUNNING');
    const notes = await logsOf(campaignId, 'LIMIT_REACHED');
    expect(notes).toHaveLength(1);
    expect(notes[0]?.message).toMatch(/campaign reached its daily cap \(3\) for \d{4}-\d\d-\d\d/);
    expect((notes[0]?.details as { day: string }).day).toBe(localDay(new Date(), 'America/Sao_Paulo'));
  }, 60_000);
});
