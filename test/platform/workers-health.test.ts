import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scheduleCampaign } from '../../src/features/campaigns/lifecycle.js';
import { checkStalls } from '../../src/features/campaigns/stalls.js';
import { restoreLostJobs } from '../../src/workers/recovery.js';
import { readProgress } from '../../src/features/campaigns/progress.js';
import { prisma } from '../../src/infra/db/client.js';
import { getQueue } from '../../src/infra/queues/index.js';
import { startWorkers, type WorkerRuntime } from '../../src/workers/runtime.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';
import { insertContacts, logsOf, newCampaign, newRunningCampaign, numbers, uuidOf } from '../dispatch/helpers.js';

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no ${name} in /metrics`);
  return Number(line.split(' ')[1]);
}

async function workersReport(url: string) {
  const res = await fetch(`${url}/health/workers`);
  return { status: res.status, body: (await res.json()) as { status: string; stalled: string[]; workers: Array<{ pid: number; queues: string[] }>; queues: Record<string, unknown> } };
}

describe('worker processes are visible', () => {
  let stack: Stack;
  let runtime: WorkerRuntime | null = null;
  beforeAll(async () => {
    stack = await startStack({ workers: false });
  });
  afterAll(async () => {
    await runtime?.close();
    await stack.close();
  });

  it('with no worker alive, /health/workers says so, and a running campaign with work due shows it is stalled until a worker starts', async () => {
    const none = await workersReport(stack.url);
    expect(none.status).toBe(503);
    expect(none.body.stalled).toContain('no worker process is alive');
    expect(await metric(stack.url, 'wc_workers_alive')).toBe(0);

    const { tenantId, key } = await newTenant('Stalls');
    const sender = await addSender(stack, key);
    await insertContacts(tenantId, numbers(3, 81).map((phone) => ({ phone })));
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)]);
    expect(await checkStalls()).toEqual({ stalled: 1, ended: 0 });
    expect(await checkStalls()).toEqual({ stalled: 0, ended: 0 }); // once
    const progress = await readProgress(prisma, tenantId, campaignId);
    expect(progress?.stalledSince).not.toBeNull();
    expect((await logsOf(campaignId, 'STALLED'))[0]).toMatchObject({ severity: 'CRITICAL' });
    expect(await metric(stack.url, 'wc_campaigns_stalled')).toBe(1);

    runtime = await startWorkers(undefined, { scheduleCheckMs: 300 });
    const alive = await workersReport(stack.url);
    expect(alive.status).toBe(200);
    expect(alive.body.workers).toEqual([expect.objectContaining({ pid: process.pid, queues: expect.arrayContaining(['sends', 'webhooks']) })]);
    expect(Object.keys(alive.body.queues).sort()).toEqual(['campaigns', 'imports', 'maintenance', 'sends', 'webhooks']);
    expect(await metric(stack.url, 'wc_workers_alive')).toBe(1);
    // The worker's watchdog, or the API servers' watch, ends the stall.
    await waitFor(async () => (await readProgress(prisma, tenantId, campaignId))?.stalledSince === null, 20_000);
    expect(await logsOf(campaignId, 'STALL_ENDED')).toHaveLength(1);
    await waitFor(async () => (await prisma.campaign.findUniqueOrThrow({ where: { id: campaignId } })).status === 'COMPLETED', 30_000);
  });

  it('recurring jobs that Redis lost are created again by a running worker, not only at its start', async () => {
    if (!runtime) runtime = await startWorkers(undefined, { scheduleCheckMs: 300 });
    const m = getQueue('maintenance');
    expect(await m.getJobScheduler('reap-sending')).toBeTruthy();
    await m.removeJobScheduler('reap-sending');
    await m.removeJobScheduler('reconcile');
    expect(await m.getJobScheduler('reap-sending')).toBeFalsy();
    await waitFor(async () => Boolean((await m.getJobScheduler('reap-sending')) && (await m.getJobScheduler('reconcile'))), 10_000);
  });

  it('a scheduled start whose job Redis lost is queued again from the campaign row', async () => {
    const { tenantId, key } = await newTenant('Lost schedule');
    const sender = await addSender(stack, key);
    await insertContacts(tenantId, numbers(1, 83).map((phone) => ({ phone })));
    const campaignId = await newCampaign(tenantId, [uuidOf(sender.instanceId)]);
    const at = new Date(Date.now() + 120_000);
    await scheduleCampaign(tenantId, campaignId, 'test', at);
    const jobId = `start-${campaignId}-${at.getTime()}`;
    const queue = getQueue('campaigns');
    await waitFor(async () => Boolean(await queue.getJob(jobId)), 5000);
    await (await queue.getJob(jobId))?.remove();
    expect(await queue.getJob(jobId)).toBeFalsy();
    expect((await restoreLostJobs()).scheduledStarts).toBeGreaterThanOrEqual(1);
    const job = await queue.getJob(jobId);
    expect(job?.data).toMatchObject({ campaignId, scheduledAt: at.toISOString() });
    expect(await job?.isDelayed()).toBe(true);
    await job?.remove();
  });

  it('an orderly stop removes the heartbeat', async () => {
    if (!runtime) runtime = await startWorkers(undefined, { scheduleCheckMs: 300 });
    expect(await prisma.workerProcess.count()).toBe(1);
    await runtime.close();
    runtime = null;
    expect(await prisma.workerProcess.count()).toBe(0);
    expect((await workersReport(stack.url)).status).toBe(503);
  });
});
