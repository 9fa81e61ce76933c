import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pauseCampaign, resumeCampaign } from '../../src/features/campaigns/lifecycle.js';
import { prisma } from '../../src/infra/db/client.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';
import {
  campaignRow,
  expectCountersMatchRecount,
  expectNoDuplicate,
  insertContacts,
  newRunningCampaign,
  numbers,
  sendsTo,
  statusCounts,
  uuidOf,
} from './helpers.js';

interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** A worker process (`src/workers/main.ts`) with this test file's database and Redis prefix. */
function startWorker(): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/workers/main.ts'], {
    env: { ...process.env, LOG_LEVEL: 'debug' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/**
 * Sends this process's finished send jobs made: a job's result counts its slots' outcomes, `sent`
 * for one send or `sent 3, nothing-to-send 1` for a job of several slots.
 */
function sendsMade(w: WorkerProcess): number {
  let n = 0;
  for (const line of w.output().split('\n')) {
    if (!line.includes('"queue":"sends"') || !line.includes('"msg":"job done"')) continue;
    const result = String((JSON.parse(line) as { result?: unknown }).result ?? '');
    const m = /(?:^|, )sent(?: (\d+))?(?:,|$)/.exec(result);
    if (m) n += Number(m[1] ?? 1);
  }
  return n;
}

describe('three worker processes together', () => {
  let stack: Stack;
  const workers: WorkerProcess[] = [];
  beforeAll(async () => {
    stack = await startStack({ workers: false, sim: { noReadRate: 1, latencyMs: 5 } });
    for (let i = 0; i < 3; i++) workers.push(startWorker());
    await waitFor(async () => workers.every((w) => w.output().includes('workers started')), 60_000);
  }, 120_000);
  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    await stack?.close();
  });

  it("never exceed an instance's per-minute limit, even for two campaigns sharing it", async () => {
    const { tenantId, key } = await newTenant('Limits');
    // A gap between sends, as every real instance has: each slot its own instant, so its own job.
    const sender = await addSender(stack, key, { limitPerMinute: 10, limitPerHour: 1000, minDelayMs: 200, maxDelayMs: 400 });
    const first = numbers(8, 80);
    const second = numbers(8, 81);
    const firstIds = await insertContacts(tenantId, first.map((phone) => ({ phone })));
    const secondIds = await insertContacts(tenantId, second.map((phone) => ({ phone })));
    const sentBefore = workers.map(sendsMade);
    const a = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)], { audience: { contactIds: firstIds } });
    const b = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)], { audience: { contactIds: secondIds } });

    await waitFor(async () => (await campaignRow(a)).status === 'COMPLETED' && (await campaignRow(b)).status === 'COMPLETED', 100_000, 250);
    const sends = sendsTo(stack.sim.sends, [...first, ...second]).filter((s) => s.instance === sender.name);
    expect(sends).toHaveLength(16);
    expectNoDuplicate(sends);
    const times = sends.map((s) => new Date(s.at).getTime()).sort((x, y) => x - y);
    // In any 59 s (one second of tolerance for the dispatch latency between a slot and its request)
    // there are at most 10 sends; the 11th waited for the first minute to pass.
    for (let i = 0; i < times.length; i++) {
      const inWindow = times.filter((t) => t >= (times[i] as number) && t < (times[i] as number) + 59_000).length;
      expect(inWindow, `sends in the 59 s from send ${i}`).toBeLessThanOrEqual(10);
    }
    expect((times[10] as number) - (times[0] as number)).toBeGreaterThanOrEqual(59_000);
    // The sends were shared by the processes (each pulls jobs from the same queue).
    const byProcess = workers.map((w, i) => sendsMade(w) - (sentBefore[i] as number));
    expect(byProcess.reduce((x, y) => x + y, 0)).toBe(16);
    expect(byProcess.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
    await expectCountersMatchRecount(a);
    await expectCountersMatchRecount(b);
  }, 120_000);

  it('pause: no send starts after pauseCampaign returns; resume continues where it stopped, with no duplicate', async () => {
    const { tenantId, key } = await newTenant('Pause');
    const sender = await addSender(stack, key);
    await prisma.whatsAppInstance.update({ where: { id: uuidOf(sender.instanceId) }, data: { limitPerMinute: 100_000, limitPerHour: 1_000_000 } });
    const phones = numbers(300, 82);
    await insertContacts(tenantId, phones.map((phone) => ({ phone })));
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)]);

    await waitFor(async () => sendsTo(stack.sim.sends, phones).length >= 30, 30_000, 10);
    await pauseCampaign(tenantId, campaignId, 'test', 'checking pause');
    const atReturn = sendsTo(stack.sim.sends, phones).length;
    expect(atReturn).toBeLessThan(300);
    const paused = await campaignRow(campaignId);
    expect(paused.status).toBe('PAUSED');
    expect((await statusCounts(campaignId)).SENDING ?? 0).toBe(0);

    await new Promise((r) => setTimeout(r, 3000));
    expect(sendsTo(stack.sim.sends, phones)).toHaveLength(atReturn);
    const sentInDb = await prisma.recipient.count({ where: { campaignId, sentAt: { not: null } } });
    expect(sentInDb).toBe(atReturn);

    await resumeCampaign(tenantId, campaignId, 'test');
    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 60_000, 100);
    const sends = sendsTo(stack.sim.sends, phones);
    expect(sends).toHaveLength(300);
    expectNoDuplicate(sends);
    await expectCountersMatchRecount(campaignId);
  }, 120_000);
});
