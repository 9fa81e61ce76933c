import { prisma } from '../../infra/db/client.js';
import { ConflictError, NotFoundError, ValidationError } from '../../domain/errors.js';
import { Prisma } from '../../generated/prisma/client.js';

function validZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export interface TenantSettingsInput {
  name?: string | null;
  country?: string | null;
  region?: string | null;
  timezone?: string | null;
  healthPauseThreshold?: number | null;
  healthCooldownMinutes?: number | null;
  healthRecoveryPerHour?: number | null;
  replyWindowHours?: number | null;
  optOutKeywords?: string[] | null;
  optInKeywords?: string[] | null;
  optInReply?: string | null;
  optOutReply?: string | null;
  requireOptIn?: boolean | null;
  frequencyCap?: { messages: number; periodHours: number } | null;
}

const keywords = (list: string[] | null | undefined) => [...new Set((list ?? []).map((k) => k.trim().toUpperCase()))];

/** Changes the given settings; null clears only what may be empty (region). */
export async function updateTenantSettings(tenantId: string, input: TenantSettingsInput) {
  if (input.timezone !== undefined && (input.timezone === null || !validZone(input.timezone))) {
    throw ValidationError.field(['input', 'timezone'], 'not an IANA time zone (e.g. America/Sao_Paulo)');
  }
  const data: Prisma.TenantUpdateInput = {};
  for (const k of ['name', 'country', 'timezone', 'healthPauseThreshold', 'healthCooldownMinutes', 'healthRecoveryPerHour', 'replyWindowHours', 'requireOptIn'] as const) {
    const v = input[k];
    if (v === null) throw ValidationError.field(['input', k], 'cannot be null');
    if (v !== undefined) (data as Record<string, unknown>)[k] = v;
  }
  if (input.region !== undefined) data.region = input.region;
  if (input.optOutKeywords !== undefined) data.optOutKeywords = keywords(input.optOutKeywords);
  if (input.optInKeywords !== undefined) data.optInKeywords = keywords(input.optInKeywords);
  if (input.optInReply !== undefined) data.optInReply = input.optInReply?.trim() || null;
  if (input.optOutReply !== undefined) data.optOutReply = input.optOutReply?.trim() || null;
  if (input.frequencyCap !== undefined) {
    data.frequencyCapMessages = input.frequencyCap?.messages ?? null;
    data.frequencyCapHours = input.frequencyCap?.periodHours ?? null;
  }
  if (data.optInKeywords || data.optOutKeywords) {
    const current = await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId }, select: { optInKeywords: true, optOutKeywords: true } });
    const optIn = (data.optInKeywords as string[] | undefined) ?? current.optInKeywords;
    const optOut = new Set((data.optOutKeywords as string[] | undefined) ?? current.optOutKeywords);
    const both = optIn.filter((k) => optOut.has(k));
    if (both.length) {
      throw ValidationError.field(['input', data.optInKeywords ? 'optInKeywords' : 'optOutKeywords'], `${both.join(', ')} cannot both opt in and opt out`);
    }
  }
  return prisma.tenant.update({ where: { id: tenantId }, data });
}

export async function addHoliday(tenantId: string, input: { date: string; name: string; yearly: boolean }) {
  const m = input.date.match(/^(\d{4})-(\d{2})-(\d{2})$/);
  const date = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
  if (!date || date.toISOString().slice(0, 10) !== input.date) throw ValidationError.field(['input', 'date'], 'a date as YYYY-MM-DD');
  try {
    return await prisma.holiday.create({ data: { tenantId, date, name: input.name, yearly: input.yearly } });
  } catch (err) {
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') throw new ConflictError(`there is already a holiday on ${input.date}`, 'date');
    throw err;
  }
}

export async function deleteHoliday(tenantId: string, id: string) {
  const { count } = await prisma.holiday.deleteMany({ where: { id, tenantId } });
  if (count === 0) throw new NotFoundError('Holiday', id);
  return id;
}
