import { afterAll, describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { ROLLBACK, sqlExecute, sqlRows, sqlTransaction } from '../../src/infra/db/sql.js';
import { Prisma } from '../../src/generated/prisma/client.js';

afterAll(async () => {
  await prisma.$disconnect();
});

const namesOf = (tenantId: string) =>
  prisma.contact.findMany({ where: { tenantId }, orderBy: { phone: 'asc' }, select: { name: true } }).then((rows) => rows.map((r) => r.name));

describe('statements on pg directly (src/infra/db/sql.ts)', () => {
  it('run Prisma.sql statements with their parameters, as named prepared statements of their connection', async () => {
    const tenant = await prisma.tenant.create({ data: { name: 'sql rows' } });
    await prisma.contact.createMany({ data: ['+5511900000101', '+5511900000102'].map((phone, i) => ({ tenantId: tenant.id, phone, name: `c${i}` })) });
    const filter = Prisma.sql`name = ANY(${['c1', 'none']}::text[])`;
    const statement = Prisma.sql`SELECT phone, name FROM contact WHERE tenant_id = ${tenant.id}::uuid AND ${filter}`;
    const prepared = await sqlTransaction(async (client) => {
      expect(await sqlRows<{ phone: string; name: string }>(statement, client)).toEqual([{ phone: '+5511900000102', name: 'c1' }]);
      const rows = await client.query<{ statement: string }>('SELECT statement FROM pg_prepared_statements');
      return rows.rows.map((r) => r.statement);
    });
    expect(prepared).toContain(statement.text);
    expect(await sqlExecute(Prisma.sql`UPDATE contact SET name = 'renamed' WHERE tenant_id = ${tenant.id}::uuid`)).toBe(2);
  });

  // Retrying a deadlocked transaction: test/platform/transaction.test.ts, with inTransaction's.
  it('commit what the body returned, roll back on ROLLBACK or an error, and keep the pool usable', async () => {
    const tenant = await prisma.tenant.create({ data: { name: 'sql tx' } });
    await prisma.contact.create({ data: { tenantId: tenant.id, phone: '+5511900000201', name: 'before' } });
    const rename = (name: string) => Prisma.sql`UPDATE contact SET name = ${name} WHERE tenant_id = ${tenant.id}::uuid`;

    expect(
      await sqlTransaction(async (client) => {
        await sqlExecute(rename('rolled back'), client);
        return ROLLBACK;
      }),
    ).toBe(ROLLBACK);
    expect(await namesOf(tenant.id)).toEqual(['before']);

    await expect(
      sqlTransaction(async (client) => {
        await sqlExecute(rename('failed'), client);
        await client.query('SELECT 1/0');
        return 'never';
      }),
    ).rejects.toThrow(/division by zero/);
    expect(await namesOf(tenant.id)).toEqual(['before']);

    expect(await sqlTransaction((client) => sqlExecute(rename('committed'), client))).toBe(1);
    expect(await namesOf(tenant.id)).toEqual(['committed']);
  });
});
