import { randomBytes } from 'node:crypto';
import { createTenant } from '../../src/features/auth/api-keys.js';
import { prisma } from '../../src/infra/db/client.js';
import { registerEvolutionServer, registerInstance, webhookUrl } from '../../src/features/senders/service.js';

/**
 * A tenant with one instance registered through the senders service (no Evolution needed: the tests
 * post Evolution's webhooks themselves). The health auto-pause threshold is 0, so that a test full
 * of ERROR receipts measures the score without the instance being paused under it.
 */
type InstanceOpts = { jwtKey?: string; name?: string; evolutionUrl?: string; integration?: 'WHATSAPP_BAILEYS' | 'WHATSAPP_BUSINESS' | 'EVOLUTION' };

export async function tenantWithInstance(opts: InstanceOpts = {}) {
  const { tenant, key } = await createTenant({ name: `wh ${randomBytes(3).toString('hex')}` });
  await prisma.tenant.update({ where: { id: tenant.id }, data: { healthPauseThreshold: 0 } });
  const instance = await addInstance(tenant.id, opts);
  return { tenantId: tenant.id, key, ...instance };
}

export async function addInstance(tenantId: string, opts: InstanceOpts = {}) {
  const name = opts.name ?? `inst-${randomBytes(4).toString('hex')}`;
  const server = await registerEvolutionServer(tenantId, { name: `evo-${name}`, baseUrl: opts.evolutionUrl ?? 'http://127.0.0.1:9', apiKey: 'unused' });
  const instance = await registerInstance(tenantId, { serverId: server.id, name, jwtKey: opts.jwtKey, minDelayMs: 0, maxDelayMs: 0, integration: opts.integration });
  await prisma.whatsAppInstance.update({ where: { id: instance.id }, data: { connectionState: 'OPEN' } });
  return { instanceId: instance.id, name, url: webhookUrl(instance.webhookSecret) };
}
