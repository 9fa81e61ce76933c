import { prisma } from '../../infra/db/client.js';
import { decryptSecret } from '../../infra/lib/crypto.js';
import { TtlCache } from '../../infra/lib/ttl-cache.js';

/** What the webhook route needs of the instance a webhook URL's secret names. */
export interface WebhookInstance {
  id: string;
  tenantId: string;
  name: string;
  webhookSecret: string;
  jwtKey: string | null;
}

/**
 * Per process, for 5 s: every webhook would otherwise read its instance. An instance changed or
 * deleted here is forgotten at once (`forgetWebhookSecret`); other API servers see it within 5 s.
 */
const cache = new TtlCache<WebhookInstance | null>(5000);

/** The instance whose webhook URL carries `secret`, or null. */
export function instanceBySecret(secret: string): Promise<WebhookInstance | null> {
  return cache.get(secret, async () => {
    const row = await prisma.whatsAppInstance.findUnique({
      where: { webhookSecret: secret },
      select: { id: true, tenantId: true, name: true, webhookSecret: true, jwtKeyEncrypted: true },
    });
    return row
      ? { id: row.id, tenantId: row.tenantId, name: row.name, webhookSecret: row.webhookSecret, jwtKey: row.jwtKeyEncrypted ? decryptSecret(row.jwtKeyEncrypted) : null }
      : null;
  });
}

/** Called when an instance is updated or deleted, so that this process reads it again. */
export function forgetWebhookSecret(secret: string) {
  cache.delete(secret);
}
