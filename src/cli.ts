// `npm run cli -- <command> [options]`: tenant and API key administration. Prints JSON.
import { parseArgs } from 'node:util';
import { createApiKey, createTenant, revokeApiKey } from './features/auth/api-keys.js';
import { closePubsub } from './infra/realtime/pubsub.js';
import { prisma } from './infra/db/client.js';

const USAGE = `usage: npm run cli -- <command> [options]

  tenant:create --name <name> [--country BR] [--region SP] [--timezone America/Sao_Paulo]
      creates a tenant and prints its first API key (role ADMIN)
  key:create --tenant <tenant id> --name <name> [--role ADMIN|OPERATOR|VIEWER]
  key:list --tenant <tenant id>
  key:revoke --tenant <tenant id> --key <api key id>`;

const ROLES = ['ADMIN', 'OPERATOR', 'VIEWER'] as const;

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(64);
}

async function main() {
  const [command, ...rest] = process.argv.slice(2);
  const { values } = parseArgs({
    args: rest,
    options: {
      name: { type: 'string' },
      country: { type: 'string' },
      region: { type: 'string' },
      timezone: { type: 'string' },
      tenant: { type: 'string' },
      role: { type: 'string' },
      key: { type: 'string' },
    },
    strict: true,
  });
  const uuid = (v: string | undefined, flag: string) => {
    if (!v || !/^[0-9a-f-]{36}$/i.test(v)) fail(`--${flag} must be a UUID`);
    return v;
  };
  switch (command) {
    case 'tenant:create': {
      if (!values.name) fail('--name is required');
      const { tenant, key, apiKey } = await createTenant({
        name: values.name,
        country: values.country?.toUpperCase(),
        region: values.region ?? null,
        timezone: values.timezone,
      });
      return { tenantId: tenant.id, name: tenant.name, apiKeyId: apiKey.id, role: apiKey.role, apiKey: key };
    }
    case 'key:create': {
      const tenantId = uuid(values.tenant, 'tenant');
      const role = (values.role ?? 'OPERATOR').toUpperCase();
      if (!ROLES.includes(role as (typeof ROLES)[number])) fail(`--role must be one of ${ROLES.join(', ')}`);
      if (!(await prisma.tenant.findUnique({ where: { id: tenantId } }))) fail(`no tenant ${tenantId}`);
      const { key, apiKey } = await createApiKey(tenantId, values.name ?? `${role.toLowerCase()} key`, role as (typeof ROLES)[number]);
      return { tenantId, apiKeyId: apiKey.id, name: apiKey.name, role: apiKey.role, apiKey: key };
    }
    case 'key:list': {
      const tenantId = uuid(values.tenant, 'tenant');
      const keys = await prisma.apiKey.findMany({ where: { tenantId }, orderBy: { createdAt: 'asc' } });
      return keys.map((k) => ({ apiKeyId: k.id, name: k.name, prefix: k.prefix, role: k.role, lastUsedAt: k.lastUsedAt, revokedAt: k.revokedAt }));
    }
    case 'key:revoke': {
      const tenantId = uuid(values.tenant, 'tenant');
      const id = uuid(values.key, 'key');
      if (!(await revokeApiKey(tenantId, id))) fail(`no active key ${id} in tenant ${tenantId}`);
      return { apiKeyId: id, revoked: true };
    }
    default:
      fail(command ? `unknown command ${command}` : 'a command is required');
  }
}

try {
  const out = await main();
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  await closePubsub();
  await prisma.$disconnect();
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  await closePubsub();
  await prisma.$disconnect();
  process.exit(1);
}
