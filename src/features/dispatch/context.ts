import { config } from '../../infra/config/index.js';
import { prisma } from '../../infra/db/client.js';
import { EvolutionClient } from '../../infra/evolution/client.js';
import { MESSAGE_ID_SINCE, versionAtLeast } from '../../infra/evolution/wire.js';
import { LIMIT_SETTINGS_SELECT, type LimitSettings } from '../../domain/instances.js';
import { type CampaignCaps, campaignCaps } from '../../domain/pacing.js';
import { campaignWindow, isAlwaysOpen, isOpen, type WindowRules, zoneOr } from '../../domain/window.js';
import { decryptSecret } from '../../infra/lib/crypto.js';
import { TtlCache } from '../../infra/lib/ttl-cache.js';
import type { EvolutionIntegration } from '../../generated/prisma/client.js';

/**
 * Short-lived per-process caches of what every send needs and rarely changes. Correctness never
 * depends on them: the claim re-checks the campaign and instance state in SQL.
 */
const TTL_MS = 2000;

export interface SendInstance {
  id: string;
  tenantId: string;
  name: string;
  serverId: string;
  client: EvolutionClient;
  limits: LimitSettings;
  /** Its Evolution (2.4.0+) sends under a key id we choose: the claim chooses one per send. */
  sendsUnderMessageId: boolean;
  integration: EvolutionIntegration;
}

export interface SendCampaign {
  id: string;
  tenantId: string;
  maxAttempts: number;
  errorThreshold: number;
  minDelayMs: number | null;
  maxDelayMs: number | null;
  /** Evolution's `delay` (typing presence) of each send; 0: none. */
  typingDelayMs: number;
  /** The tenant's zone: recipients without a zone of their own are evaluated in it. */
  timezone: string;
  window: WindowRules;
  /** The window never closes: no zone filter is needed. */
  alwaysOpen: boolean;
  /** Its caps over all its instances (null: none; the limiter then does nothing more per send). */
  caps: CampaignCaps | null;
}

const instances = new TtlCache<SendInstance | null>(TTL_MS);
const campaigns = new TtlCache<SendCampaign | null>(TTL_MS);
const clients = new Map<string, EvolutionClient>();

export function sendInstance(tenantId: string, instanceId: string): Promise<SendInstance | null> {
  return instances.get(instanceId, async () => {
    const row = await prisma.whatsAppInstance.findFirst({
      where: { id: instanceId, tenantId },
      select: {
        id: true,
        tenantId: true,
        name: true,
        serverId: true,
        integration: true,
        ...LIMIT_SETTINGS_SELECT,
        server: { select: { baseUrl: true, apiKeyEncrypted: true, updatedAt: true, version: true } },
      },
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
    const { id, tenantId: t, name, serverId, server, integration, ...limits } = row;
    // Meta assigns a Cloud API message's id (wamid): only Baileys sends go under one we choose.
    const sendsUnderMessageId = integration !== 'WHATSAPP_BUSINESS' && server.version !== null && versionAtLeast(server.version, MESSAGE_ID_SINCE);
    return { id, tenantId: t, name, serverId, client, limits, sendsUnderMessageId, integration };
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
        limitPerMinute: true,
        limitPerHour: true,
        limitPerDay: true,
        typingDelayMs: true,
        windowStartMinute: true,
        windowEndMinute: true,
        windowWeekdays: true,
        respectHolidays: true,
        holidayCountry: true,
        holidayRegion: true,
        tenant: { select: { timezone: true, country: true, region: true, holidays: { select: { date: true, yearly: true } } } },
      },
    });
    if (!row) return null;
    const { tenant, windowStartMinute, windowEndMinute, windowWeekdays, respectHolidays, holidayCountry, holidayRegion, limitPerMinute, limitPerHour, limitPerDay, ...rest } = row;
    const window = campaignWindow(
      { windowStartMinute, windowEndMinute, windowWeekdays, respectHolidays, holidayCountry, holidayRegion },
      tenant,
      tenant.holidays.map((h) => ({ date: h.date.toISOString().slice(0, 10), yearly: h.yearly })),
    );
    const caps = campaignCaps({ id: rest.id, limitPerMinute, limitPerHour, limitPerDay });
    return { ...rest, timezone: tenant.timezone, window, alwaysOpen: isAlwaysOpen(window), caps };
  });
}

const zonesOf = new Map<string, Promise<string[]>>();

/**
 * The zones a campaign's recipients are evaluated in. Frozen at start, so cached for the process's
 * life (bounded); a recipient without a zone counts as the tenant's.
 */
export function campaignZones(campaignId: string, tenantZone: string): Promise<string[]> {
  let zones = zonesOf.get(campaignId);
  if (!zones) {
    zones = prisma.$queryRaw<Array<{ zone: string }>>`
      SELECT DISTINCT COALESCE(timezone, ${tenantZone}) AS zone FROM recipient WHERE campaign_id = ${campaignId}::uuid`.then((rows) =>
      rows.map((r) => r.zone),
    );
    zones.catch(() => zonesOf.delete(campaignId));
    if (zonesOf.size > 5000) zonesOf.clear();
    zonesOf.set(campaignId, zones);
  }
  return zones;
}

/** Zones of the campaign whose window is open at `now`; null when the window never closes (no filter). */
export async function openZones(campaign: SendCampaign, now: Date): Promise<string[] | null> {
  if (campaign.alwaysOpen) return null;
  const zones = await campaignZones(campaign.id, campaign.timezone);
  return zones.filter((z) => isOpen(campaign.window, now, zoneOr(z, campaign.timezone)));
}

export function forgetInstance(instanceId: string) {
  instances.delete(instanceId);
}

export function forgetCampaign(campaignId: string) {
  campaigns.delete(campaignId);
}
