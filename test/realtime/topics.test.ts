import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { graphql } from '../gql/index.js';
import { wsClient } from '../helpers/graphql.js';
import { type Stack, startStack } from '../helpers/stack.js';
import { seedCampaign } from '../webhooks/fixtures.js';
import { tenantWithInstance } from '../webhooks/senders.js';
import { gid, live } from './live.js';

const Progress = graphql(`
  subscription TopicProgress($campaignId: ID!) { campaignProgress(campaignId: $campaignId) { counters { sent delivered } } }
`);
const Logs = graphql(`
  subscription TopicLogs($campaignId: ID!) { campaignLogs(campaignId: $campaignId, minSeverity: ERROR, last: 0) { message actor } }
`);
const Instance = graphql(`
  subscription TopicInstance($instanceId: ID!) { instanceHealth(instanceId: $instanceId) { health { score } } }
`);
const Instances = graphql(`
  subscription TopicInstances { instancesHealth { name health { score } } }
`);
const Import = graphql(`
  subscription TopicImport($importId: ID!) { importProgress(importId: $importId) { status processedRows } }
`);

/** Runs test/realtime/publisher.ts in a new process (this test file's environment) and waits for it. */
function publishFromAnotherProcess(order: Record<string, unknown>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/realtime/publisher.ts', JSON.stringify(order)], {
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`publisher exited ${code}: ${out}`))));
  });
}

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ workers: false });
});
afterAll(async () => {
  await stack.close();
});

describe('every topic reaches subscribers from another process', () => {
  it('campaign:progress, campaign:log, instance:health (one and all) and import:progress', async () => {
    const s = await tenantWithInstance();
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 5, campaignStatus: 'RUNNING', recipientStatus: 'QUEUED' });
    const imp = await prisma.contactImport.create({ data: { tenantId: s.tenantId, format: 'csv', status: 'RUNNING', totalRows: 3 } });
    const ws = wsClient(stack.url, s.key);
    const progress = live(ws, Progress, { campaignId: gid('Campaign', c.campaignId) });
    const logs = live(ws, Logs, { campaignId: gid('Campaign', c.campaignId) });
    const one = live(ws, Instance, { instanceId: gid('WhatsAppInstance', s.instanceId) });
    const all = live(ws, Instances, {});
    const importing = live(ws, Import, { importId: gid('ContactImport', imp.id) });
    await progress.until((e) => e.length === 1);
    await one.until((e) => e.length === 1);
    await all.until((e) => e.length === 1);
    await importing.until((e) => e.length === 1);
    expect(importing.events[0]?.importProgress.status).toBe('RUNNING');
    await new Promise((r) => setTimeout(r, 200)); // the log subscription (no initial entries) is listening too

    const outputs = await Promise.all([
      publishFromAnotherProcess({ topic: 'campaign:progress', campaignId: c.campaignId }),
      publishFromAnotherProcess({ topic: 'campaign:log', tenantId: s.tenantId, campaignId: c.campaignId, message: 'from elsewhere' }),
      publishFromAnotherProcess({ topic: 'instance:health', tenantId: s.tenantId, instanceId: s.instanceId, score: 61 }),
      publishFromAnotherProcess({ topic: 'import:progress', tenantId: s.tenantId, importId: imp.id }),
    ]);
    const pids = outputs.map((o) => /from pid (\d+)/.exec(o)?.[1]);
    expect(pids.every((p) => p && Number(p) !== process.pid)).toBe(true);

    await progress.until((e) => e.at(-1)?.campaignProgress.counters.sent === 1);
    expect(progress.events.at(-1)?.campaignProgress.counters.delivered).toBe(1);
    await logs.until((e) => e.length === 1);
    expect(logs.events[0]?.campaignLogs).toEqual({ message: 'from elsewhere', actor: 'other-process' });
    await one.until((e) => e.at(-1)?.instanceHealth.health.score === 61);
    await all.until((e) => e.at(-1)?.instancesHealth[0]?.health.score === 61);
    await importing.until((e) => e.at(-1)?.importProgress.status === 'COMPLETED');
    expect(importing.events.at(-1)?.importProgress.processedRows).toBe(3);

    for (const sub of [progress, logs, one, all, importing]) await sub.stop();
    await ws.client.dispose();
  });
});
