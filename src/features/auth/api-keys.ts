import { prisma } from '../../infra/db/client.js';
import { sqlRows } from '../../infra/db/sql.js';
import { publish } from '../../infra/realtime/pubsub.js';
import { ConflictError, NotFoundError } from '../../domain/errors.js';
import { type ApiKeyRole, Prisma } from '../../generated/prisma/client.js';
import { generateApiKey, hashApiKey, looksLikeApiKey } from '../../infra/lib/crypto.js';
import { ensurePredefinedSegments } from '../segments/service.js';

export interface Viewer {
  tenantId: string;
  apiKeyId: string;
  role: ApiKeyRole;
}

export type AuthFailure = 'missing' | 'malformed' | 'unknown' | 'revoked';

export type AuthResult = { ok: true; viewer: Viewer } | { ok: false; reason: AuthFailure };

/**
 * The viewer an API key stands for, or why it stands for nobody. One indexed lookup, as a prepared
 * statement on pg. No cache here; the response cache (src/api/schema/response-cache.ts) trusts a valid
 * key again only until anything of its tenant changes, which a revocation does.
 */
export async function authenticateApiKey(key: string | null | undefined): Promise<AuthResult> {
  if (!key) return { ok: false, reason: 'missing' };
  if (!looksLikeApiKey(key)) return { ok: false, reason: 'malformed' };
  const [row] = await sqlRows<{ id: string; tenant_id: string; role: ApiKeyRole; revoked_at: Date | null; last_used_at: Date | null }>(
    Prisma.sql`SELECT id, tenant_id, role::text AS role, revoked_at, last_used_at FROM api_key WHERE hash = ${hashApiKey(key)}`,
  );
  if (!row) return { ok: false, reason: 'unknown' };
  if (row.revoked_at) return { ok: false, reason: 'revoked' };
  if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > 60_000) {
    // At most one write a minute per key; a lost update only makes lastUsedAt a little stale.
    void prisma.apiKey.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } }).catch(() => undefined);
  }
  return { ok: true, viewer: { tenantId: row.tenant_id, apiKeyId: row.id, role: row.role } };
}

export const AUTH_MESSAGES: Record<AuthFailure, string> = {
  missing: 'authentication required: send "Authorization: Bearer <api key>" (or connectionParams.authorization over WebSocket)',
  malformed: 'invalid API key: not a key issued by this service',
  unknown: 'invalid API key',
  revoked: 'this API key was revoked',
};

/** Creates a key and returns it in clear, the only time it exists outside the caller. */
export async function createApiKey(tenantId: string, name: string, role: ApiKeyRole) {
  const { key, prefix, hash } = generateApiKey();
  const row = await prisma.apiKey.create({ data: { tenantId, name, role, prefix, hash } });
  return { key, apiKey: row };
}

/** Revokes a key (the CLI's way) and tells the API servers, which stop trusting it at once. */
export async function revokeApiKey(tenantId: string, id: string) {
  const { count } = await prisma.apiKey.updateMany({ where: { id, tenantId, revokedAt: null }, data: { revokedAt: new Date() } });
  if (count > 0) await publish('tenant:changed', { tenantId });
  return count > 0;
}

export async function createTenant(input: { name: string; country?: string; region?: string | null; timezone?: string }) {
  const tenant = await prisma.tenant.create({
    data: { name: input.name, country: input.country ?? 'BR', region: input.region ?? null, timezone: input.timezone ?? 'America/Sao_Paulo' },
  });
  const { key, apiKey } = await createApiKey(tenant.id, 'initial admin key', 'ADMIN');
  await ensurePredefinedSegments(tenant.id);
  return { tenant, key, apiKey };
}

/** Revokes a key of the tenant, refusing to revoke its last active ADMIN key (that would lock the tenant out). */
export async function revokeTenantApiKey(tenantId: string, id: string) {
  return prisma.$transaction(async (tx) => {
    const key = await tx.apiKey.findFirst({ where: { id, tenantId } });
    if (!key) throw new NotFoundError('ApiKey', id);
    if (key.revokedAt) return key;
    if (key.role === 'ADMIN') {
      const admins = await tx.apiKey.count({ where: { tenantId, role: 'ADMIN', revokedAt: null } });
      if (admins <= 1) throw new ConflictError('this is the last active ADMIN key; create another ADMIN key first', 'id');
    }
    return tx.apiKey.update({ where: { id }, data: { revokedAt: new Date() } });
  });
}
