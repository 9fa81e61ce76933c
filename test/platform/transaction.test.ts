import { afterAll, describe, expect, it } from 'vitest';
import { prisma } from '../../src/db/client.js';
import { inTransaction } from '../../src/db/transaction.js';

afterAll(async () => {
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
});
