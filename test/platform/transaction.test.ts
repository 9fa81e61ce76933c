import { afterAll, describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { sqlExecute, sqlTransaction } from '../../src/infra/db/sql.js';
import { AfterCommit, inTransaction } from '../../src/infra/db/transaction.js';
import { Prisma } from '../../src/generated/prisma/client.js';
import { channel, closePubsub, pubsubEngine } from '../../src/infra/realtime/pubsub.js';
import type { CampaignLogEvent } from '../../src/infra/realtime/topics.js';

afterAll(async () => {
  await closePubsub();
  await prisma.$disconnect();
});

/**
 * Two transactions that each lock one contact row, wait until both are locked, then ask for the
 * other's: PostgreSQL aborts one of them. `inTx` runs its body in the transaction under test, with
 * `exec` running a statement in it. Returns the results and how many times the bodies ran.
 */
async function crossDeadlock(
  name: string,
  inTx: (body: (exec: (q: Prisma.Sql) => Promise<unknown>) => Promise<string>) => Promise<unknown>,
) {
  const tenant = await prisma.tenant.create({ data: { name } });
  const [a, b] = await Promise.all(['1', '2'].map((n) => prisma.contact.create({ data: { tenantId: tenant.id, phone: `+551190000000${n}`, name: 'x' } })));
  let runs = 0;
  let locked = 0;
  const bothLocked = () =>
    new Promise<void>((resolve) => {
      const tick = () => (locked >= 2 ? resolve() : setTimeout(tick, 5));
      tick();
    });
  const cross = (first: string, second: string, label: string) =>
    inTx(async (exec) => {
      runs++;
      await exec(Prisma.sql`UPDATE contact SET name = ${label} WHERE id = ${first}::uuid`);
      locked++;
      await bothLocked();
      await exec(Prisma.sql`UPDATE contact SET email = ${`${label}@x.com`} WHERE id = ${second}::uuid`);
      return label;
    });
  const results = await Promise.all([cross(a!.id, b!.id, 'one'), cross(b!.id, a!.id, 'two')]);
  const emails = (await prisma.contact.findMany({ where: { tenantId: tenant.id }, select: { email: true } })).map((r) => r.email).sort();
  return { results, runs, emails };
}

describe('transactions', () => {
  it('run again, invisibly, when PostgreSQL aborts one of them to break a deadlock (Prisma)', async () => {
    let published = 0;
    const r = await crossDeadlock('deadlock prisma', (body) =>
      inTransaction(async (tx, after) => {
        after.defer(async () => {
          published++;
        });
        return body((q) => tx.$executeRaw(q));
      }),
    );
    expect(r.results).toEqual(['one', 'two']);
    expect(r.runs).toBe(3); // the deadlock victim ran twice
    expect(published).toBe(2); // its rolled-back attempt released nothing
    expect(r.emails).toEqual(['one@x.com', 'two@x.com']);
  });

  it('run again, invisibly, when PostgreSQL aborts one of them to break a deadlock (pg, src/infra/db/sql.ts)', async () => {
    const r = await crossDeadlock('deadlock pg', (body) => sqlTransaction((client) => body((q) => sqlExecute(q, client))));
    expect(r.results).toEqual(['one', 'two']);
    expect(r.runs).toBe(3);
    expect(r.emails).toEqual(['one@x.com', 'two@x.com']);
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
