import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pauseCampaign, resumeCampaign } from '../../src/features/campaigns/lifecycle.js';
import { prisma } from '../../src/infra/db/client.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { SIM_API_KEY, type Stack, startStack, waitFor } from '../helpers/stack.js';
import { sendsMade, startWorker, waitForStart, type WorkerProcess } from '../helpers/worker-process.js';
import type { SimSend } from '../../tools/evolution-simulator/types.js';
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

/**
 * Two processes that keep both cores busy (a spinning loop each), as other processes of a loaded
 * machine do; `stop` kills them and waits until they are gone.
 */
function burnCpu(n = 2) {
  const burners = Array.from({ length: n }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  return {
    async stop() {
      await Promise.all(
        burners.map(
          (b) =>
            new Promise<void>((resolve) => {
              if (b.exitCode !== null || b.signalCode !== null) return resolve();
              b.once('exit', () => resolve());
              b.kill('SIGKILL');
            }),
        ),
      );
    },
  };
}

/** The simulator's record of an instance's sends, read over its HTTP control route. */
async function simulatorSends(stack: Stack, instance: string): Promise<SimSend[]> {
  const res = await fetch(`${stack.sim.url}/__simulator/sends?instance=${encodeURIComponent(instance)}`, { headers: { apikey: SIM_API_KEY } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { sends: SimSend[] }).sends;
}

/** How many times the loaded pause test runs (`npm run test:pause-load` asks for 10). */
const PAUSE_RUNS = Number(process.env.PAUSE_LOAD_RUNS ?? 1);

describe('three worker processes together', () => {
  let stack: Stack;
  const workers: WorkerProcess[] = [];
  beforeAll(async () => {
    stack = await startStack({ workers: false, sim: { noReadRate: 1, latencyMs: 5 } });
    for (let i = 0; i < 3; i++) workers.push(startWorker());
    await waitForStart(workers);
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

  it("keeps every two sends of an instance at least its minDelayMs apart, by Evolution's clock, across three processes", async () => {
    const { tenantId, key } = await newTenant('Pace');
    // The per-minute and hourly limits are far away: only the delays pace these sends.
    const sender = await addSender(stack, key, { minDelayMs: 60, maxDelayMs: 90 });
    await prisma.whatsAppInstance.update({ where: { id: uuidOf(sender.instanceId) }, data: { limitPerMinute: 100_000, limitPerHour: 1_000_000 } });
    const phones = numbers(200, 83);
    await insertContacts(tenantId, phones.map((phone) => ({ phone })));
    const sentBefore = workers.map(sendsMade);
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)]);

    await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 100_000, 500);
    const sends = sendsTo(await simulatorSends(stack, sender.name), phones);
    expect(sends).toHaveLength(200);
    expectNoDuplicate(sends);
    const times = sends.map((s) => new Date(s.at).getTime()).sort((x, y) => x - y);
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    const short = gaps.filter((g) => g < 60);
    expect(short, `gaps under 60 ms between consecutive sends (smallest ${Math.min(...gaps)} ms)`).toEqual([]);
    console.info(`pace: smallest gap between consecutive sends ${Math.min(...gaps)} ms, median ${[...gaps].sort((a, b) => a - b)[gaps.length >> 1]} ms`);
    // The three processes all sent: the gaps held between processes, not only within one.
    const byProcess = workers.map((w, i) => sendsMade(w) - (sentBefore[i] as number));
    expect(byProcess.reduce((x, y) => x + y, 0)).toBe(200);
    expect(byProcess.filter((n) => n > 0).length, `sends by process: ${byProcess.join(', ')}`).toBe(3);
    await expectCountersMatchRecount(campaignId);
  }, 150_000);

  for (let run = 1; run <= PAUSE_RUNS; run++) {
    it(`pause with both cores busy: no send reaches Evolution after pauseCampaign returns but those it reports in a call; resume continues with no duplicate${PAUSE_RUNS > 1 ? ` (run ${run} of ${PAUSE_RUNS})` : ''}`, async () => {
      const { tenantId, key } = await newTenant('Pause');
      const sender = await addSender(stack, key);
      await prisma.whatsAppInstance.update({ where: { id: uuidOf(sender.instanceId) }, data: { limitPerMinute: 100_000, limitPerHour: 1_000_000 } });
      const phones = numbers(300, 84 + run);
      await insertContacts(tenantId, phones.map((phone) => ({ phone })));
      const load = burnCpu(2);
      try {
        const campaignId = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)]);

        await waitFor(async () => sendsTo(stack.sim.sends, phones).length >= 30, 60_000, 10);
        const pausedAt = Date.now();
        const inCall = await pauseCampaign(tenantId, campaignId, 'test', 'checking pause');
        const pauseMs = Date.now() - pausedAt;
        const atReturn = sendsTo(stack.sim.sends, phones).length;
        console.info(`pause run ${run}: returned after ${pauseMs} ms, ${atReturn} sends by then, ${inCall.length} reported still in a call`);
        expect(atReturn).toBeLessThan(300);
        const paused = await campaignRow(campaignId);
        expect(paused.status).toBe('PAUSED');
        // Whatever is still SENDING was reported, and is a call already with Evolution.
        const sending = await prisma.recipient.findMany({ where: { campaignId, status: 'SENDING' }, select: { id: true } });
        const reported = new Set(inCall.map((s) => s.recipientId));
        expect(sending.filter((r) => !reported.has(r.id))).toEqual([]);

        await new Promise((r) => setTimeout(r, 3000));
        // After the return, only the sends reported in a call may still have reached Evolution.
        const reportedPhones = new Set(inCall.map((s) => s.phone.replace(/\D/g, '')));
        const after = sendsTo(stack.sim.sends, phones).slice(atReturn);
        expect(after.filter((s) => !reportedPhones.has(s.number))).toEqual([]);
        await waitFor(async () => ((await statusCounts(campaignId)).SENDING ?? 0) === 0, 30_000, 100);
        const sentInDb = await prisma.recipient.count({ where: { campaignId, sentAt: { not: null } } });
        expect(sentInDb).toBe(sendsTo(stack.sim.sends, phones).length);

        await resumeCampaign(tenantId, campaignId, 'test');
        await waitFor(async () => (await campaignRow(campaignId)).status === 'COMPLETED', 90_000, 100);
        const sends = sendsTo(stack.sim.sends, phones);
        expect(sends).toHaveLength(300);
        expectNoDuplicate(sends);
        await expectCountersMatchRecount(campaignId);
      } finally {
        await load.stop();
      }
    }, 180_000);
  }
});
