import { describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { seededRandom } from '../../tools/evolution-simulator/random.js';
import { countersAndRecount, envelope, failedWebhooks, instanceAndRecount, post, receipt, seedCampaign, webhooksIdle, useWebhookStack } from './fixtures.js';
import { tenantWithInstance } from './senders.js';

useWebhookStack();

type Status = 'SERVER_ACK' | 'DELIVERY_ACK' | 'READ' | 'ERROR';

async function postAll(url: string, bodies: unknown[], concurrency: number) {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++];
        statuses.push((await post(url, body)).status);
      }
    }),
  );
  return statuses;
}

describe('replaying a finished campaign’s receipts', () => {
  it('10,000 status webhooks, 10% duplicated, shuffled and concurrent: every recipient holds its highest status and every figure equals a recount', async () => {
    const random = seededRandom(2024);
    const s = await tenantWithInstance();
    const TOTAL = 10_000;
    const UNIQUE = 9_000;

    // What WhatsApp reported for each message: sent, then mostly delivered (often read), sometimes
    // an error, sometimes a stray error besides a delivery.
    const plans: Status[][] = [];
    let unique = 0;
    while (unique < UNIQUE) {
      const plan: Status[] = ['SERVER_ACK'];
      const roll = random();
      if (roll < 0.15) plan.push('ERROR');
      else {
        plan.push('DELIVERY_ACK');
        if (random() < 0.6) plan.push('READ');
        if (random() < 0.05) plan.push('ERROR');
      }
      const take = plan.slice(0, UNIQUE - unique);
      plans.push(take);
      unique += take.length;
    }
    const c = await seedCampaign({ tenantId: s.tenantId, instanceId: s.instanceId, n: plans.length });

    const events = plans.flatMap((plan, i) => plan.map((status) => ({ i, status })));
    const duplicates = Array.from({ length: TOTAL - UNIQUE }, () => events[Math.floor(random() * events.length)] as (typeof events)[number]);
    const shuffle = <T>(list: T[]) => {
      for (let j = list.length - 1; j > 0; j--) {
        const k = Math.floor(random() * (j + 1));
        [list[j], list[k]] = [list[k] as T, list[j] as T];
      }
      return list;
    };
    // Half the duplicates arrive with everything else (applied concurrently with their originals),
    // the other half after everything was applied (dropped by the receipt rules).
    const first = shuffle([...events, ...duplicates.slice(0, duplicates.length / 2)]);
    const later = shuffle(duplicates.slice(duplicates.length / 2));
    const body = (e: (typeof events)[number]) => envelope('messages.update', s.name, receipt(c.recipients[e.i]?.keyId as string, e.status));

    const answers = await postAll(s.url, first.map(body), 64);
    await webhooksIdle(180_000);
    answers.push(...(await postAll(s.url, later.map(body), 64)));
    await webhooksIdle(180_000);
    expect(answers).toHaveLength(TOTAL);
    expect(answers.every((a) => a === 200)).toBe(true);
    expect(await failedWebhooks()).toBe(0);

    const recipients = await prisma.recipient.findMany({ where: { campaignId: c.campaignId }, orderBy: { seq: 'asc' } });
    const logs = await prisma.$queryRaw<Array<{ recipient_id: string; type: string; n: number }>>`
      SELECT recipient_id, type::text, count(*)::int AS n FROM campaign_log WHERE campaign_id = ${c.campaignId}::uuid GROUP BY 1, 2`;
    const logCount = new Map(logs.map((l) => [`${l.recipient_id}:${l.type}`, l.n]));
    let failedLogs = 0;
    for (const [i, plan] of plans.entries()) {
      const r = recipients[i];
      if (!r) throw new Error(`recipient ${i} missing`);
      const has = (x: Status) => plan.includes(x);
      const expected = has('READ') ? 'READ' : has('DELIVERY_ACK') ? 'DELIVERED' : has('ERROR') ? 'FAILED' : 'SENT';
      expect(r.status, plan.join(',')).toBe(expected);
      expect(r.deliveredAt !== null).toBe(has('READ') || has('DELIVERY_ACK'));
      expect(r.readAt !== null).toBe(has('READ'));
      expect(r.failedAt !== null).toBe(expected === 'FAILED');
      // One log entry per applied change.
      expect(logCount.get(`${r.id}:MESSAGE_DELIVERED`) ?? 0).toBe(r.deliveredAt ? 1 : 0);
      expect(logCount.get(`${r.id}:MESSAGE_READ`) ?? 0).toBe(r.readAt ? 1 : 0);
      const failed = logCount.get(`${r.id}:MESSAGE_FAILED`) ?? 0;
      // An ERROR applies only if it came before the delivery; either way at most once.
      expect(failed).toBe(expected === 'FAILED' ? 1 : has('ERROR') ? failed : 0);
      expect(failed).toBeLessThanOrEqual(1);
      failedLogs += failed;
    }
    const totalLogs = logs.reduce((sum, l) => sum + l.n, 0);
    expect(totalLogs).toBe(recipients.filter((r) => r.deliveredAt).length + recipients.filter((r) => r.readAt).length + failedLogs);

    const { counters, recount } = await countersAndRecount(c.campaignId);
    expect(counters).toEqual(recount);
    const health = await instanceAndRecount(s.instanceId);
    expect(health.actual).toEqual(health.expected);
    expect(await prisma.pendingReceipt.count({ where: { instanceId: s.instanceId } })).toBe(0);
  }, 300_000);
});
