import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { logCampaignProgress } from '../../src/features/campaigns/progress-log.js';
import { prisma } from '../../src/infra/db/client.js';
import { createRedis } from '../../src/infra/redis.js';
import { newTenant } from '../helpers/factories.js';

/** A logger writing into an array, to read what one pass logged. */
function capture() {
  const lines: Array<Record<string, any>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

describe('campaign progress lines', () => {
  const redis = createRedis('command');
  afterAll(async () => {
    await redis.quit();
    await prisma.$disconnect();
  });

  it('logs each running campaign once per pass, with what moved since the previous pass and what remains', async () => {
    const t = await newTenant('Summary');
    // Counters written directly: the line reads the campaign's counter columns, nothing else.
    const running = await prisma.campaign.create({ data: { tenantId: t.tenantId, name: 'running', status: 'RUNNING', targetedCount: 10, sentCount: 2, deliveredCount: 1, remainingCount: 8 } });
    await prisma.campaign.create({ data: { tenantId: t.tenantId, name: 'done', status: 'COMPLETED', targetedCount: 5, sentCount: 5 } });

    const first = capture();
    await logCampaignProgress(redis, first.log);
    const mine = (lines: Array<Record<string, any>>) => lines.filter((l) => l.msg === 'campaign progress' && l.tenantId === t.tenantId);
    expect(mine(first.lines)).toEqual([
      expect.objectContaining({ campaignId: running.id, remaining: 8, total: { sent: 2, delivered: 1, failed: 0 } }),
    ]);
    expect(mine(first.lines)[0]).not.toHaveProperty('sent');

    await prisma.campaign.update({ where: { id: running.id }, data: { sentCount: 7, deliveredCount: 5, failedCount: 1, remainingCount: 2 } });
    const second = capture();
    await logCampaignProgress(redis, second.log);
    expect(mine(second.lines)).toEqual([
      expect.objectContaining({ campaignId: running.id, sent: 5, delivered: 4, failed: 1, remaining: 2, total: { sent: 7, delivered: 5, failed: 1 } }),
    ]);
  });
});
