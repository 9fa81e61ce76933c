import { createHmac } from 'node:crypto';
import { config } from '../../infra/config/index.js';
import { safeEqual } from '../../infra/lib/crypto.js';

/** How long a report link works. */
export const EXPORT_LINK_TTL_SECONDS = 15 * 60;

/** Derived from the encryption key, so a leaked link key cannot decrypt anything and vice versa. */
const signingKey = createHmac('sha256', config.encryptionKey).update('campaign-report-links').digest();

function sign(payload: string): string {
  return createHmac('sha256', signingKey).update(payload).digest('base64url');
}

export interface ReportGrant {
  tenantId: string;
  campaignId: string;
  /** Unix seconds. */
  expires: number;
}

/** `<payload>.<signature>`: the tenant, the campaign and the expiry, signed (HMAC-SHA256). */
export function reportToken(grant: ReportGrant): string {
  const payload = Buffer.from(JSON.stringify({ t: grant.tenantId, c: grant.campaignId, e: grant.expires })).toString('base64url');
  return `${payload}.${sign(payload)}`;
}

export type TokenCheck = { ok: true; grant: ReportGrant } | { ok: false; reason: 'malformed' | 'signature' | 'expired' };

export function verifyReportToken(token: string, nowSeconds = Math.floor(Date.now() / 1000)): TokenCheck {
  const [payload, signature, extra] = token.split('.');
  if (!payload || !signature || extra !== undefined || token.length > 1000) return { ok: false, reason: 'malformed' };
  if (!safeEqual(sign(payload), signature)) return { ok: false, reason: 'signature' };
  let data: { t?: unknown; c?: unknown; e?: unknown };
  try {
    data = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof data.t !== 'string' || typeof data.c !== 'string' || typeof data.e !== 'number') return { ok: false, reason: 'malformed' };
  if (data.e < nowSeconds) return { ok: false, reason: 'expired' };
  return { ok: true, grant: { tenantId: data.t, campaignId: data.c, expires: data.e } };
}

export function reportUrl(grant: ReportGrant): string {
  return `${config.publicUrl}/exports/campaigns/${grant.campaignId}/report.csv?token=${reportToken(grant)}`;
}
