import { afterAll, describe, expect, it } from 'vitest';
import { prisma } from '../../src/db/client.js';
import { AfterCommit, inTransaction } from '../../src/db/transaction.js';
import { channel, closePubsub, pubsubEngine } from '../../src/realtime/pubsub.js';
import type { CampaignLogEvent } from '../../src/realtime/topics.js';

afterAll(async () => {
  await closePubsub();
  await prisma.$disconnect();
});

describe('transactions', () => {
  it('run again, invisibly, when PostgreSQL aborts one of them to break a deadlock', async () => {
    const tenant = await prisma.tenant.create({ data: { name: 'deadlock' } });
    const [a, b] = await Promise.all(['a', 'b'].map((name) => prisma.contact.create({ data: { tenantId: tenant.id, phone: `+5511900000${name === 'a' ? '01' : '02'}`, name } })));
    let runs = 0;
    let published = 0;
    // Each transaction locks one row, waits for the other to lock the other, then asks for it.
    let locked = 0;
    const bothLocked = () =>
      new Promise<void>((resolve) => {
        const tick = () => (locked >= 2 ? resolve() : setTimeout(tick, 5));
        tick();
      });
    const cross = (first: string, second: string, label: string) =>
      inTransaction(async (tx, after) => {
        runs++;
        await tx.$executeRaw`UPDATE contact SET name = ${label} WHERE id = ${first}::uuid`;
        locked++;
        await bothLocked();
        await tx.$executeRaw`UPDATE contact SET email = ${`${label}@x.com`} WHERE id = ${second}::uuid`;
        after.defer(async () => {
          published++;
        });
        return label;
      });
    const results = await Promise.all([cross(a!.id, b!.id, 'one'), cross(b!.id, a!.id, 'two')]);
    expect(results).toEqual(['one', 'two']);
    expect(runs).toBe(3); // the deadlock victim ran twice
    expect(published).toBe(2); // its rolled-back attempt released nothing
    const rows = await prisma.contact.findMany({ where: { tenantId: tenant.id }, orderBy: { phone: 'asc' } });
    expect(rows.map((r) => r.email).sort()).toEqual(['one@x.com', 'two@x.com']);
  });

  it('publish the log entries of one commit as one event per campaign, severity and type', async () => {
    const engine = pubsubEngine();
    const received: CampaignLogEvent[] = [];
    const ids = await Promise.all(
      ['c1', 'c2'].map((c) => engine.subscribe(channel('campaign:log', 't1', c), (e: CampaignLogEvent) => void received.push(e))),
    );
    const after = new AfterCommit();
    const entry = (campaignId: string, id: string, type = 'MESSAGE_SENT', severity = 'INFO') => after.publish('campaign:log', { tenantId: 't1', campaignId, logIds: [id], severity, type });
    entry('c1', '1');
    entry('c1', '2');
    entry('c1', '3', 'MESSAGE_FAILED', 'ERROR');
    entry('c2', '4');
    entry('c1', '5');
    await after.flush();
    const until = Date.now() + 5000;
    while (received.length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100)); // nothing more comes
    for (const id of ids) engine.unsubscribe(id);
    const key = (e: CampaignLogEvent) => `${e.campaignId}/${e.type}/${e.severity}`;
    expect(received.map((e) => [key(e), e.logIds]).sort()).toEqual([
      ['c1/MESSAGE_FAILED/ERROR', ['3']],
      ['c1/MESSAGE_SENT/INFO', ['1', '2', '5']],
      ['c2/MESSAGE_SENT/INFO', ['4']],
    ]);
  });
});
