import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendLog, appendLogs } from '../../src/features/campaigns/logs.js';
import { bumpCampaign } from '../../src/features/campaigns/progress.js';
import { prisma } from '../../src/infra/db/client.js';
import { inTransaction } from '../../src/infra/db/transaction.js';
import type { LogSeverity, LogType } from '../../src/generated/prisma/client.js';
import { graphql } from '../gql/index.js';
import { wsClient } from '../helpers/graphql.js';
import { type Stack, startStack } from '../helpers/stack.js';
import { seedCampaign } from '../webhooks/fixtures.js';
import { addInstance, tenantWithInstance } from '../webhooks/senders.js';
import { failure, gid, type Live, live } from './live.js';

const Progress = graphql(`
  subscription RtProgress($campaignId: ID!) {
    campaignProgress(campaignId: $campaignId) {
      status
      percentDone
      deliveryRate
      readRate
      replyRate
      sendsPerMinute
      expectedFinishAt
      counters { targeted sent delivered read replied remaining }
    }
  }
`);

const Logs = graphql(`
  subscription RtLogs($campaignId: ID!, $minSeverity: LogSeverity, $types: [LogType!], $last: Int) {
    campaignLogs(campaignId: $campaignId, minSeverity: $minSeverity, types: $types, last: $last) {
      id
      type
      severity
      message
      campaignId
    }
  }
`);

const Instance = graphql(`
  subscription RtInstance($instanceId: ID!) {
    instanceHealth(instanceId: $instanceId) {
      id
      name
      connectionState
      health { score status deliveredToday }
    }
  }
`);

const Instances = graphql(`
  subscription RtInstances {
    instancesHealth {
      id
      name
      health { score }
    }
  }
`);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ workers: false });
});
afterAll(async () => {
  await stack.close();
});

async function log(tenantId: string, campaignId: string, type: LogType, severity: LogSeverity, message: string) {
  await inTransaction((tx, after) => appendLog(tx, after, { tenantId, campaignId, type, severity, message, actor: 'test' }));
}

describe('campaignProgress', () => {
  it('starts with the current state, speed and expected finish, then follows changes with rates', async () => {
    const s = await tenantWithInstance();
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 100, campaignStatus: 'RUNNING', recipientStatus: 'QUEUED' });
    // 30 sends in the last minute, as the send path logs them.
    await inTransaction((tx, after) =>
      appendLogs(tx, after, Array.from({ length: 30 }, () => ({ tenantId: s.tenantId, campaignId: c.campaignId, type: 'MESSAGE_SENT' as const, message: 'sent' }))),
    );
    const ws = wsClient(stack.url, s.key);
    const sub = live(ws, Progress, { campaignId: gid('Campaign', c.campaignId) });
    const [first] = await sub.until((e) => e.length >= 1);
    const p = first?.campaignProgress;
    expect(p).toMatchObject({ status: 'RUNNING', percentDone: 0, sendsPerMinute: 30, deliveryRate: null, counters: { targeted: 100, remaining: 100 } });
    const eta = Date.parse(p?.expectedFinishAt as string) - Date.now();
    expect(eta).toBeGreaterThan(2.5 * 60_000); // 100 remaining at 30 a minute: about 3.3 minutes
    expect(eta).toBeLessThan(3.6 * 60_000);

    await inTransaction((tx, after) => bumpCampaign(tx, after, c.campaignId, { sent: 10, remaining: -10, delivered: 8, read: 4, replied: 2 }));
    const events = await sub.until((e) => e.at(-1)?.campaignProgress.counters.sent === 10);
    expect(events.at(-1)?.campaignProgress).toMatchObject({ sendsPerMinute: 40, percentDone: 10, deliveryRate: 0.8, readRate: 0.5, replyRate: 0.25 });
    await sub.stop();
    await ws.client.dispose();
  });

  it('coalesces a burst of changes and always delivers the last state', async () => {
    const s = await tenantWithInstance();
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 200, campaignStatus: 'RUNNING', recipientStatus: 'QUEUED' });
    const ws = wsClient(stack.url, s.key);
    const sub = live(ws, Progress, { campaignId: gid('Campaign', c.campaignId) });
    await sub.until((e) => e.length >= 1);
    for (let i = 0; i < 150; i++) await inTransaction((tx, after) => bumpCampaign(tx, after, c.campaignId, { sent: 1, remaining: -1 }));
    const events = await sub.until((e) => e.at(-1)?.campaignProgress.counters.sent === 150);
    const sent = events.map((e) => e.campaignProgress.counters.sent);
    expect([...sent].sort((a, b) => a - b)).toEqual(sent);
    expect(events.length).toBeLessThan(75);
    await new Promise((r) => setTimeout(r, 300));
    expect(sub.events.at(-1)?.campaignProgress.counters.sent).toBe(150);
    await sub.stop();
    await ws.client.dispose();
  });
});

describe('campaignLogs', () => {
  it('starts with the last entries at or above the severity, then streams new ones, each once', async () => {
    const s = await tenantWithInstance();
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: 1, campaignStatus: 'RUNNING' });
    await log(s.tenantId, c.campaignId, 'STARTED', 'INFO', 'i1');
    await log(s.tenantId, c.campaignId, 'LIMIT_REACHED', 'WARNING', 'w1');
    await log(s.tenantId, c.campaignId, 'MESSAGE_SENT', 'INFO', 'i2');
    await log(s.tenantId, c.campaignId, 'HEALTH_ISSUE', 'WARNING', 'w2');
    await log(s.tenantId, c.campaignId, 'MESSAGE_FAILED', 'ERROR', 'e1');

    const ws = wsClient(stack.url, s.key);
    const warnings = live(ws, Logs, { campaignId: gid('Campaign', c.campaignId), minSeverity: 'WARNING', last: 2 });
    const failures = live(ws, Logs, { campaignId: gid('Campaign', c.campaignId), types: ['MESSAGE_FAILED'], last: 0 });
    await warnings.until((e) => e.length >= 2);
    expect(warnings.events.map((e) => e.campaignLogs.message)).toEqual(['w2', 'e1']);
    await new Promise((r) => setTimeout(r, 200)); // both subscriptions are listening

    await log(s.tenantId, c.campaignId, 'MESSAGE_SENT', 'INFO', 'i3');
    await log(s.tenantId, c.campaignId, 'MESSAGE_FAILED', 'ERROR', 'e2');
    await inTransaction((tx, after) =>
      appendLogs(tx, after, [
        { tenantId: s.tenantId, campaignId: c.campaignId, type: 'PAUSED', severity: 'CRITICAL', message: 'c1' },
        { tenantId: s.tenantId, campaignId: c.campaignId, type: 'MESSAGE_READ', severity: 'INFO', message: 'i4' },
      ]),
    );
    await warnings.until((e) => e.length >= 4);
    await failures.until((e) => e.length >= 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(warnings.events.map((e) => e.campaignLogs.message)).toEqual(['w2', 'e1', 'e2', 'c1']);
    expect(warnings.events.every((e) => e.campaignLogs.campaignId === gid('Campaign', c.campaignId))).toBe(true);
    expect(failures.events.map((e) => e.campaignLogs.message)).toEqual(['e2']);
    const stored = await prisma.campaignLog.findFirstOrThrow({ where: { campaignId: c.campaignId, message: 'e2' } });
    expect(failures.events[0]?.campaignLogs.id).toBe(gid('CampaignLog', stored.id.toString()));
    await warnings.stop();
    await failures.stop();
    await ws.client.dispose();
  });
});

describe('instance health', () => {
  it('starts with the instance and follows its changes; the tenant-wide feed lists all of its instances', async () => {
    const s = await tenantWithInstance();
    const second = await addInstance(s.tenantId);
    const ws = wsClient(stack.url, s.key);
    const one = live(ws, Instance, { instanceId: gid('WhatsAppInstance', s.instanceId) });
    const all = live(ws, Instances, {});
    await one.until((e) => e.length >= 1);
    await all.until((e) => e.length >= 1);
    expect(one.events[0]?.instanceHealth).toMatchObject({ name: s.name, connectionState: 'OPEN', health: { score: 100, status: 'EXCELLENT', deliveredToday: 0 } });
    expect(all.events[0]?.instancesHealth.map((i) => i.name)).toEqual([s.name, second.name]);

    await inTransaction(async (tx, after) => {
      await tx.$executeRaw`UPDATE whatsapp_instance SET health_score = 42, delivered_today = 7 WHERE id = ${second.instanceId}::uuid`;
      after.publish('instance:health', { tenantId: s.tenantId, instanceId: second.instanceId });
    });
    await all.until((e) => e.at(-1)?.instancesHealth.find((i) => i.name === second.name)?.health.score === 42);
    await inTransaction(async (tx, after) => {
      await tx.$executeRaw`UPDATE whatsapp_instance SET health_score = 35, connection_state = 'CLOSE' WHERE id = ${s.instanceId}::uuid`;
      after.publish('instance:health', { tenantId: s.tenantId, instanceId: s.instanceId });
    });
    await one.until((e) => e.at(-1)?.instanceHealth.health.score === 35);
    expect(one.events.at(-1)?.instanceHealth).toMatchObject({ connectionState: 'CLOSE', health: { status: 'CRITICAL' } });
    // The single-instance feed saw nothing of the other instance's change.
    expect(one.events).toHaveLength(2);
    await one.stop();
    await all.stop();
    await ws.client.dispose();
  });
});

describe('tenancy', () => {
  it('another tenant cannot subscribe to a campaign or instance it does not own, and its feeds see nothing of them', async () => {
    const a = await tenantWithInstance();
    const b = await tenantWithInstance();
    const c = await seedCampaign({ tenantId: a.tenantId, instanceId: a.instanceId, n: 1, campaignStatus: 'RUNNING' });
    const ws = wsClient(stack.url, b.key);
    const attempts: Array<Live<unknown>> = [
      live(ws, Progress, { campaignId: gid('Campaign', c.campaignId) }),
      live(ws, Logs, { campaignId: gid('Campaign', c.campaignId) }),
      live(ws, Instance, { instanceId: gid('WhatsAppInstance', a.instanceId) }),
    ];
    for (const sub of attempts) {
      const err = await failure(sub);
      expect(err.extensions?.code).toBe('NOT_FOUND');
      expect(sub.events).toEqual([]);
      await sub.stop();
    }
    const feed = live(ws, Instances, {});
    await feed.until((e) => e.length >= 1);
    expect(feed.events[0]?.instancesHealth.map((i) => i.name)).toEqual([b.name]);
    await inTransaction(async (tx, after) => {
      await tx.$executeRaw`UPDATE whatsapp_instance SET health_score = 10 WHERE id = ${a.instanceId}::uuid`;
      after.publish('instance:health', { tenantId: a.tenantId, instanceId: a.instanceId });
      await appendLog(tx, after, { tenantId: a.tenantId, campaignId: c.campaignId, type: 'ERROR', severity: 'ERROR', message: 'secret of A' });
      await bumpCampaign(tx, after, c.campaignId, { delivered: 1 });
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(feed.events).toHaveLength(1);
    await feed.stop();
    await ws.client.dispose();
  });
});
