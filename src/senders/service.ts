import { config } from '../config/index.js';
import { prisma } from '../db/client.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { Prisma } from '../generated/prisma/client.js';
import { encryptSecret, randomToken } from '../lib/crypto.js';

export function webhookUrl(secret: string): string {
  return `${config.publicUrl}/webhooks/evolution/${secret}`;
}

function isUniqueViolation(err: unknown): boolean {
  return err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002';
}

export async function registerEvolutionServer(tenantId: string, input: { name: string; baseUrl: string; apiKey: string }) {
  try {
    return await prisma.evolutionServer.create({
      data: { tenantId, name: input.name, baseUrl: input.baseUrl.replace(/\/+$/, ''), apiKeyEncrypted: encryptSecret(input.apiKey) },
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`an Evolution server named "${input.name}" exists`, 'name');
    throw err;
  }
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
}

export async function registerInstance(tenantId: string, input: InstanceInput) {
  const server = await prisma.evolutionServer.findFirst({ where: { id: input.serverId, tenantId }, select: { id: true } });
  if (!server) throw new NotFoundError('EvolutionServer', input.serverId);
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
      },
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`the server already has an instance named "${input.name}"`, 'name');
    throw err;
  }
}
