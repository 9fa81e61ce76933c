import { config } from '../config/index.js';
import { prisma } from '../db/client.js';
import { EvolutionClient } from '../evolution/client.js';
import { decryptSecret } from '../lib/crypto.js';

/**
 * Short-lived per-process caches of what every send needs and rarely changes. Correctness never
 * depends on them: the claim re-checks the campaign and instance state in SQL.
 */
const TTL_MS = 2000;

class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();
  async get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && hit.until > Date.now()) return hit.value;
    const value = await load();
    this.entries.set(key, { value, until: Date.now() + TTL_MS });
    if (this.entries.size > 10_000) this.entries.clear();
    return value;
  }
  delete(key: string) {
    this.entries.delete(key);
  }
}

export interface SendInstance {
  id: string;
  tenantId: string;
  name: string;
  serverId: string;
  client: EvolutionClient;
}

export interface SendCampaign {
  id: string;
  tenantId: string;
  maxAttempts: number;
  errorThreshold: number;
  minDelayMs: number | null;
  maxDelayMs: number | null;
  timezone: string;
}

const instances = new TtlCache<SendInstance | null>();
const campaigns = new TtlCache<SendCampaign | null>();
const clients = new Map<string, EvolutionClient>();

export function sendInstance(tenantId: string, instanceId: string): Promise<SendInstance | null> {
  return instances.get(instanceId, async () => {
    const row = await prisma.whatsAppInstance.findFirst({
      where: { id: instanceId, tenantId },
      select: { id: true, tenantId: true, name: true, serverId: true, server: { select: { baseUrl: true, apiKeyEncrypted: true, updatedAt: true } } },
    });
    if (!row) return null;
    const clientKey = `${row.serverId}:${row.server.updatedAt.getTime()}`;
    let client = clients.get(clientKey);
    if (!client) {
      client = new EvolutionClient({
        baseUrl: row.server.baseUrl,
        apiKey: decryptSecret(row.server.apiKeyEncrypted),
        timeoutMs: config.evolutionTimeoutMs,
      });
      clients.set(clientKey, client);
    }
    return { id: row.id, tenantId: row.tenantId, name: row.name, serverId: row.serverId, client };
  });
}

export function sendCampaign(tenantId: string, campaignId: string): Promise<SendCampaign | null> {
  return campaigns.get(campaignId, async () => {
    const row = await prisma.campaign.findFirst({
      where: { id: campaignId, tenantId },
      select: {
        id: true,
        tenantId: true,
        maxAttempts: true,
        errorThreshold: true,
        minDelayMs: true,
        maxDelayMs: true,
        tenant: { select: { timezone: true } },
      },
    });
    if (!row) return null;
    const { tenant, ...rest } = row;
    return { ...rest, timezone: tenant.timezone };
  });
}

export function forgetInstance(instanceId: string) {
  instances.delete(instanceId);
}
