import { appendLog } from '../campaigns/logs.js';
import { config } from '../../infra/config/index.js';
import { prisma, type Tx } from '../../infra/db/client.js';
import { inTransaction } from '../../infra/db/transaction.js';
import { EvolutionClient } from '../../infra/evolution/client.js';
import { ConflictError, InvalidTransitionError, NotFoundError, ValidationError } from '../../domain/errors.js';
import { Prisma } from '../../generated/prisma/client.js';
import { decryptSecret, encryptSecret, randomToken } from '../../infra/lib/crypto.js';
import { requestCampaignPump } from '../../infra/queues/pump.js';
import { publish } from '../../infra/realtime/pubsub.js';
import { forgetWebhookSecret } from '../webhooks/secrets.js';
import type { EvolutionIntegration } from '../../generated/prisma/client.js';
import { forgetIntegration, integrationFromEvolution } from './integration.js';
import { markConnected, markDisconnected } from './connection.js';

export function webhookUrl(secret: string): string {
  return `${config.publicUrl}/webhooks/evolution/${secret}`;
}

function isUniqueViolation(err: unknown): boolean {
  return err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002';
}

export async function registerEvolutionServer(tenantId: string, input: { name: string; baseUrl: string; apiKey: string }) {
  try {
    // Its version is asked by the workers' health sweep (refreshStaleServerVersions), not on this request.
    return await prisma.evolutionServer.create({
      data: { tenantId, name: input.name, baseUrl: input.baseUrl.replace(/\/+$/, ''), apiKeyEncrypted: encryptSecret(input.apiKey) },
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`an Evolution server named "${input.name}" exists`, 'name');
    throw err;
  }
}

/**
 * Asks the server its version (`GET /`) and stores it: from 2.4.0 sends go under a key id we choose.
 * An unreachable server keeps what was known (nothing, at first: sent as to 2.3). Never throws.
 */
export async function refreshServerVersion(serverId: string): Promise<string | null> {
  try {
    const s = await prisma.evolutionServer.findUnique({ where: { id: serverId }, select: { baseUrl: true, apiKeyEncrypted: true } });
    if (!s) return null;
    const client = new EvolutionClient({ baseUrl: s.baseUrl, apiKey: decryptSecret(s.apiKeyEncrypted), timeoutMs: Math.min(config.evolutionTimeoutMs, 5000) });
    const r = await client.serverVersion();
    await prisma.evolutionServer.update({
      where: { id: serverId },
      data: { versionCheckedAt: new Date(), ...(r.ok && r.version ? { version: r.version } : {}) },
    });
    return r.ok ? r.version : null;
  } catch {
    return null;
  }
}

/** Servers whose version was not asked in the last hour (an upgrade of Evolution is noticed within it). */
export async function refreshStaleServerVersions(): Promise<number> {
  const stale = await prisma.evolutionServer.findMany({
    where: { OR: [{ versionCheckedAt: null }, { versionCheckedAt: { lt: new Date(Date.now() - 3_600_000) } }] },
    select: { id: true },
    take: 50,
  });
  for (const s of stale) await refreshServerVersion(s.id);
  return stale.length;
}

export interface InstanceInput {
  serverId: string;
  name: string;
  phone?: string | null;
  limitPerMinute?: number | null;
  limitPerHour?: number | null;
  limitPerDay?: number | null;
  minDelayMs?: number | null;
  maxDelayMs?: number | null;
  jwtKey?: string | null;
  warmupEnabled?: boolean | null;
  warmupStartPerDay?: number | null;
  warmupIncrementPerDay?: number | null;
  /** Evolution's integration for the instance; read from Evolution when not given. */
  integration?: EvolutionIntegration | null;
}

function clientFor(server: { baseUrl: string; apiKeyEncrypted: string }, timeoutMs = Math.min(config.evolutionTimeoutMs, 10_000)) {
  return new EvolutionClient({ baseUrl: server.baseUrl, apiKey: decryptSecret(server.apiKeyEncrypted), timeoutMs });
}

/**
 * The instance's integration as its Evolution stores it (`fetchInstances`), or null when Evolution
 * does not answer or does not know the instance yet. Never throws.
 */
async function integrationOnEvolution(server: { baseUrl: string; apiKeyEncrypted: string }, name: string): Promise<EvolutionIntegration | null> {
  try {
    const r = await clientFor(server, Math.min(config.evolutionTimeoutMs, 5000)).fetchInstance(name);
    return r.ok && r.instance ? integrationFromEvolution(r.instance.integration) : null;
  } catch {
    return null;
  }
}

/**
 * Registers an instance. Its integration is the one given, else the one its Evolution reports; an
 * instance Evolution does not know yet (created there after this) counts as WHATSAPP-BAILEYS until
 * `checkInstanceConnection` reads it again.
 */
export async function registerInstance(tenantId: string, input: InstanceInput) {
  const server = await prisma.evolutionServer.findFirst({ where: { id: input.serverId, tenantId }, select: { id: true, baseUrl: true, apiKeyEncrypted: true } });
  if (!server) throw new NotFoundError('EvolutionServer', input.serverId);
  const integration = input.integration ?? (await integrationOnEvolution(server, input.name)) ?? 'WHATSAPP_BAILEYS';
  const min = input.minDelayMs ?? 1000;
  const max = input.maxDelayMs ?? Math.max(min, 3000);
  if (max < min) throw ValidationError.field(['input', 'maxDelayMs'], 'must be at least minDelayMs');
  try {
    return await prisma.whatsAppInstance.create({
      data: {
        tenantId,
        serverId: server.id,
        name: input.name,
        phone: input.phone ?? null,
        integration,
        webhookSecret: randomToken(24),
        jwtKeyEncrypted: input.jwtKey ? encryptSecret(input.jwtKey) : null,
        limitPerMinute: input.limitPerMinute ?? undefined,
        limitPerHour: input.limitPerHour ?? undefined,
        limitPerDay: input.limitPerDay ?? undefined,
        minDelayMs: min,
        maxDelayMs: max,
        warmupEnabled: input.warmupEnabled ?? false,
        warmupStartPerDay: input.warmupStartPerDay ?? undefined,
        warmupIncrementPerDay: input.warmupIncrementPerDay ?? undefined,
        warmupStartedAt: input.warmupEnabled ? new Date() : null,
        lastDailyResetAt: new Date(),
      },
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`the server already has an instance named "${input.name}"`, 'name');
    throw err;
  }
}

export async function updateEvolutionServer(tenantId: string, id: string, input: { name?: string | null; baseUrl?: string | null; apiKey?: string | null }) {
  const server = await prisma.evolutionServer.findFirst({ where: { id, tenantId }, select: { id: true } });
  if (!server) throw new NotFoundError('EvolutionServer', id);
  try {
    return await prisma.evolutionServer.update({
      where: { id },
      data: {
        ...(input.name ? { name: input.name } : {}),
        // Another address may be another Evolution: its version is asked again.
        ...(input.baseUrl ? { baseUrl: input.baseUrl.replace(/\/+$/, ''), version: null, versionCheckedAt: null } : {}),
        ...(input.apiKey ? { apiKeyEncrypted: encryptSecret(input.apiKey) } : {}),
      },
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`an Evolution server named "${input.name}" exists`, 'name');
    throw err;
  }
}

export async function deleteEvolutionServer(tenantId: string, id: string) {
  const server = await prisma.evolutionServer.findFirst({ where: { id, tenantId }, select: { id: true, _count: { select: { instances: true } } } });
  if (!server) throw new NotFoundError('EvolutionServer', id);
  if (server._count.instances > 0) throw new ConflictError(`the server still has ${server._count.instances} instance(s)`, 'id');
  await prisma.evolutionServer.delete({ where: { id } });
  return id;
}

export type InstanceUpdate = Partial<Omit<InstanceInput, 'serverId' | 'name'>> & { name?: string | null };

export async function updateInstance(tenantId: string, id: string, input: InstanceUpdate) {
  const current = await prisma.whatsAppInstance.findFirst({ where: { id, tenantId } });
  if (!current) throw new NotFoundError('WhatsAppInstance', id);
  const min = input.minDelayMs ?? current.minDelayMs;
  const max = input.maxDelayMs ?? current.maxDelayMs;
  if (max < min) throw ValidationError.field(['input', 'maxDelayMs'], 'must be at least minDelayMs');
  const data: Prisma.WhatsAppInstanceUpdateInput = {};
  if (input.name) data.name = input.name;
  if (input.phone !== undefined) data.phone = input.phone;
  if (input.integration) data.integration = input.integration;
  for (const k of ['limitPerMinute', 'limitPerHour', 'limitPerDay', 'minDelayMs', 'maxDelayMs', 'warmupStartPerDay', 'warmupIncrementPerDay'] as const) {
    const v = input[k];
    if (v !== undefined && v !== null) (data as Record<string, unknown>)[k] = v;
  }
  if (input.jwtKey !== undefined) data.jwtKeyEncrypted = input.jwtKey ? encryptSecret(input.jwtKey) : null;
  if (input.warmupEnabled !== undefined && input.warmupEnabled !== null) {
    data.warmupEnabled = input.warmupEnabled;
    if (input.warmupEnabled && !current.warmupEnabled) data.warmupStartedAt = new Date();
  }
  try {
    const updated = await prisma.whatsAppInstance.update({ where: { id }, data });
    forgetWebhookSecret(updated.webhookSecret);
    forgetIntegration(id);
    await publish('instance:health', { tenantId, instanceId: id });
    return updated;
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`the server already has an instance named "${input.name}"`, 'name');
    throw err;
  }
}

async function runningCampaignsOf(tx: Tx, instanceId: string) {
  return tx.$queryRaw<Array<{ id: string }>>`
    SELECT c.id FROM campaign c JOIN campaign_instance ci ON ci.campaign_id = c.id
    WHERE ci.instance_id = ${instanceId}::uuid AND c.status = 'RUNNING'`;
}

/** Stops an instance's sends until resumed; each running campaign using it logs the change. */
export async function pauseInstance(tenantId: string, id: string, reason: string | null, actor: string) {
  return inTransaction(async (tx, after) => {
    const instance = await tx.whatsAppInstance.findFirst({ where: { id, tenantId } });
    if (!instance) throw new NotFoundError('WhatsAppInstance', id);
    if (instance.manuallyPaused) throw new InvalidTransitionError('instance', 'PAUSED', 'pause', ['ACTIVE']);
    const updated = await tx.whatsAppInstance.update({
      where: { id },
      data: { manuallyPaused: true, pausedReason: reason ?? 'paused by an operator', pausedAt: new Date() },
    });
    for (const c of await runningCampaignsOf(tx, id)) {
      await appendLog(tx, after, {
        tenantId,
        campaignId: c.id,
        instanceId: id,
        type: 'INSTANCE_PAUSED',
        severity: 'WARNING',
        message: `instance ${instance.name} paused${reason ? `: ${reason}` : ''}; its share moves to the other instances`,
        actor,
      });
    }
    after.publish('instance:health', { tenantId, instanceId: id });
    return updated;
  });
}

/**
 * Lets an instance send again. One the health rules had paused comes back gradually (its limits ramp
 * up from a quarter, see domain/instances.ts).
 */
export async function resumeInstance(tenantId: string, id: string, actor: string) {
  const { updated, campaigns } = await inTransaction(async (tx, after) => {
    const instance = await tx.whatsAppInstance.findFirst({ where: { id, tenantId } });
    if (!instance) throw new NotFoundError('WhatsAppInstance', id);
    if (!instance.manuallyPaused && !instance.autoPausedAt) throw new InvalidTransitionError('instance', 'ACTIVE', 'resume', ['PAUSED']);
    const updated = await tx.whatsAppInstance.update({
      where: { id },
      data: {
        manuallyPaused: false,
        pausedReason: null,
        pausedAt: null,
        autoPausedAt: null,
        consecutiveErrors: 0,
        ...(instance.autoPausedAt ? { readmittedAt: new Date() } : {}),
      },
    });
    const campaigns = await runningCampaignsOf(tx, id);
    for (const c of campaigns) {
      await appendLog(tx, after, {
        tenantId,
        campaignId: c.id,
        instanceId: id,
        type: 'INSTANCE_RESUMED',
        message: `instance ${instance.name} resumed${instance.autoPausedAt ? ' (gradual re-admission)' : ''}`,
        actor,
      });
    }
    after.publish('instance:health', { tenantId, instanceId: id });
    return { updated, campaigns };
  });
  for (const c of campaigns) await requestCampaignPump(tenantId, c.id);
  return updated;
}

/** Only an instance that never sent can be deleted; otherwise pause it (its history stays). */
export async function deleteInstance(tenantId: string, id: string) {
  const instance = await prisma.whatsAppInstance.findFirst({ where: { id, tenantId }, select: { id: true, webhookSecret: true } });
  if (!instance) throw new NotFoundError('WhatsAppInstance', id);
  const used = await prisma.recipient.count({ where: { instanceId: id } });
  if (used > 0) throw new ConflictError('the instance has sent messages; pause it instead of deleting it', 'id');
  await prisma.whatsAppInstance.delete({ where: { id } });
  forgetWebhookSecret(instance.webhookSecret);
  return id;
}

const STATE_OF: Record<string, 'OPEN' | 'CONNECTING' | 'CLOSE'> = { open: 'OPEN', connecting: 'CONNECTING', close: 'CLOSE' };

/**
 * Asks Evolution for the instance's socket state (GET /instance/connectionState) and records it, with
 * the integration Evolution reports for it (fetchInstances).
 */
export async function checkInstanceConnection(tenantId: string, id: string) {
  const instance = await prisma.whatsAppInstance.findFirst({ where: { id, tenantId }, include: { server: true } });
  if (!instance) throw new NotFoundError('WhatsAppInstance', id);
  const [result, integration] = await Promise.all([clientFor(instance.server).connectionState(instance.name), integrationOnEvolution(instance.server, instance.name)]);
  const checkedAt = new Date();
  if (!result.ok) return { instance, state: null, ok: false, httpStatus: result.httpStatus, message: result.message, checkedAt };
  const state = (result.state && STATE_OF[result.state]) || 'UNKNOWN';
  // Open re-admits a disconnected instance, close marks it disconnected (src/features/senders/connection.ts).
  if (state === 'OPEN') {
    const r = await markConnected({ tenantId, instanceId: id, actor: 'api', how: 'checkInstanceConnection answered open', at: checkedAt });
    for (const c of r.campaigns) await requestCampaignPump(tenantId, c);
  } else if (state === 'CLOSE') {
    const r = await markDisconnected({ tenantId, instanceId: id, state, reason: 'connectionState answered close', actor: 'api', at: checkedAt });
    for (const c of r.campaigns) await requestCampaignPump(tenantId, c);
  } else {
    const updated = await prisma.whatsAppInstance.update({ where: { id }, data: { connectionState: state, connectionStateAt: checkedAt } });
    if (updated.connectionState !== instance.connectionState) await publish('instance:health', { tenantId, instanceId: id });
  }
  if (integration && integration !== instance.integration) {
    await prisma.whatsAppInstance.update({ where: { id }, data: { integration } });
    forgetIntegration(id);
  }
  const updated = await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id } });
  return { instance: updated, state, ok: true, httpStatus: 200, message: null, checkedAt };
}
