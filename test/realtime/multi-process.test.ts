import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, describe, expect, it, inject } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { closeQueues } from '../../src/infra/queues/index.js';
import { closePubsub } from '../../src/infra/realtime/pubsub.js';
import { graphql } from '../gql/index.js';
import { wsClient } from '../helpers/graphql.js';
import { workerPort } from '../helpers/ports.js';
import { waitFor } from '../helpers/stack.js';
import { envelope, post, receipt, seedCampaign } from '../webhooks/fixtures.js';
import { tenantWithInstance } from '../webhooks/senders.js';
import { failure, gid, live } from './live.js';

const Progress = graphql(`
  subscription MultiProgress($campaignId: ID!) {
    campaignProgress(campaignId: $campaignId) { status deliveryRate readRate counters { sent delivered read } }
  }
`);
const Instances = graphql(`
  subscription MultiInstances { instancesHealth { name health { score deliveredToday } } }
`);

const children: ChildProcess[] = [];
const outputs: Array<() => string> = [];
/** Starts one of the product's processes with this test file's environment, and waits until it is up. */
async function start(file: string, ready: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  outputs.push(() => output);
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`${file} exited ${child.exitCode}: ${output}`);
    return output.includes(ready);
  }, 60_000);
  return child;
}

afterAll(async () => {
  // A failure in a child process is logged there: show it with the test's failure.
  for (const out of outputs) for (const line of out().split('\n')) if (/"level":60|"msg":"(unexpected error|job failed)"/.test(line)) console.error(line.slice(0, 2000));
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
          setTimeout(() => c.kill('SIGKILL'), 15_000).unref();
        }),
    ),
  );
  await closeQueues();
  await closePubsub();
  await prisma.$disconnect();
});

describe('several processes', () => {
  it('a client on API server 1 sees progress caused by webhooks posted to API server 2 and applied by a worker; another tenant sees nothing', async () => {
    // Slots 1 and 2 of this worker's ports (slot 0 is this file's own API server's, test/setup/env.ts).
    const [port1, port2] = [await workerPort(inject('portBase'), 1), await workerPort(inject('portBase'), 2)];
    await Promise.all([
      start('src/main.ts', 'API server listening', { PORT: String(port1) }),
      start('src/main.ts', 'API server listening', { PORT: String(port2) }),
      start('test/realtime/webhook-worker.ts', 'workers started'),
    ]);
    const server1 = `http://127.0.0.1:${port1}`;
    const server2 = `http://127.0.0.1:${port2}`;

    const a = await tenantWithInstance();
    const b = await tenantWithInstance();
    const ca = await seedCampaign({ tenantId: a.tenantId, instanceId: a.instanceId, n: 30 });
    const cb = await seedCampaign({ tenantId: b.tenantId, instanceId: b.instanceId, n: 3 });

    const wsA = wsClient(server1, a.key);
    const wsB = wsClient(server1, b.key);
    const progressA = live(wsA, Progress, { campaignId: gid('Campaign', ca.campaignId) });
    const progressB = live(wsB, Progress, { campaignId: gid('Campaign', cb.campaignId) });
    const instancesB = live(wsB, Instances, {});
    const intruder = live(wsB, Progress, { campaignId: gid('Campaign', ca.campaignId) });
    await progressA.until((e) => e.length === 1);
    await progressB.until((e) => e.length === 1);
    await instancesB.until((e) => e.length === 1);
    expect((await failure(intruder)).extensions?.code).toBe('NOT_FOUND');
    expect(progressA.events[0]?.campaignProgress.counters).toEqual({ sent: 30, delivered: 0, read: 0 });

    const path = new URL(a.url).pathname;
    const bodies = ca.recipients.flatMap((r) => ['DELIVERY_ACK', 'READ'].map((status) => envelope('messages.update', a.name, receipt(r.keyId as string, status))));
    const answers = await Promise.all(bodies.map((body) => post(`${server2}${path}`, body)));
    expect(answers.every((r) => r.status === 200)).toBe(true);

    await progressA.until((e) => {
      const last = e.at(-1)?.campaignProgress;
      return last?.counters.delivered === 30 && last.counters.read === 30;
    }, 60_000);
    expect(progressA.events.at(-1)?.campaignProgress).toMatchObject({ deliveryRate: 1, readRate: 1 });
    const delivered = progressA.events.map((e) => e.campaignProgress.counters.delivered);
    expect([...delivered].sort((x, y) => x - y)).toEqual(delivered);

    await new Promise((r) => setTimeout(r, 500));
    expect(progressB.events).toHaveLength(1);
    expect(instancesB.events).toHaveLength(1);
    expect(intruder.events).toEqual([]);
    const campaignA = await prisma.campaign.findUniqueOrThrow({ where: { id: ca.campaignId } });
    expect(campaignA).toMatchObject({ deliveredCount: 30, readCount: 30 });

    for (const sub of [progressA, progressB, instancesB, intruder]) await sub.stop();
    await wsA.client.dispose();
    await wsB.client.dispose();
  }, 120_000);
});
