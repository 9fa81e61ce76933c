import { prisma } from '../../infra/db/client.js';
import type { EvolutionIntegration } from '../../generated/prisma/client.js';
import { TtlCache } from '../../infra/lib/ttl-cache.js';

/**
 * An instance's Evolution integration, per process for a minute: receipts and sends ask it for every
 * message, and it changes only when an operator re-registers the number (rare, and a minute late is harmless:
 * the rules that depend on it are judged again by the claim).
 */
const cache = new TtlCache<EvolutionIntegration | null>(60_000);

export function integrationOf(instanceId: string): Promise<EvolutionIntegration | null> {
  return cache.get(instanceId, async () => {
    const row = await prisma.whatsAppInstance.findUnique({ where: { id: instanceId }, select: { integration: true } });
    return row?.integration ?? null;
  });
}

export function forgetIntegration(instanceId: string) {
  cache.delete(instanceId);
}

/** The integration named as Evolution names it (`WHATSAPP-BUSINESS`), or null for an unknown word. */
export function integrationFromEvolution(word: unknown): EvolutionIntegration | null {
  switch (typeof word === 'string' ? word.trim().toUpperCase() : '') {
    case 'WHATSAPP-BAILEYS':
      return 'WHATSAPP_BAILEYS';
    case 'WHATSAPP-BUSINESS':
      return 'WHATSAPP_BUSINESS';
    case 'EVOLUTION':
      return 'EVOLUTION';
    default:
      return null;
  }
}
