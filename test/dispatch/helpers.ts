import { expect } from 'vitest';
import { startCampaign } from '../../src/features/campaigns/lifecycle.js';
import type { CampaignInput } from '../../src/features/campaigns/input.js';
import { createCampaign } from '../../src/features/campaigns/service.js';
import { prisma } from '../../src/infra/db/client.js';
import type { LogType } from '../../src/generated/prisma/client.js';
import type { SimSend } from '../../tools/evolution-simulator/server.js';

/** The uuid inside a Relay global id. */
export function uuidOf(globalId: string): string {
  return Buffer.from(globalId, 'base64').toString().split(':')[1] as string;
}

/** Contacts inserted in one statement (their phones are given in E.164). */
export async function insertContacts(tenantId: string, list: Array<{ phone: string; name?: string; timezone?: string | null }>): Promise<string[]> {
  const rows = await prisma.$queryRaw<Array<{ id: string }>>`
    INSERT INTO contact (tenant_id, phone, name, timezone, updated_at)
    SELECT ${tenantId}::uuid, x.phone, x.name, x.timezone, now()
    FROM jsonb_to_recordset(${JSON.stringify(list)}::jsonb) AS x(phone text, name text, timezone text)
    RETURNING id`;
  return rows.map((r) => r.id);
}

/** `n` distinct E.164 numbers for a seed (distinct from the factories' ranges). */
export function numbers(n: number, seed: number): string[] {
  return Array.from({ length: n }, (_, i) => `+55219${String(seed * 100_000 + i).padStart(8, '0')}`);
}

export async function newCampaign(tenantId: string, instanceIds: string[], input: Partial<CampaignInput> = {}): Promise<string> {
  const c = await createCampaign(
    tenantId,
    { name: 'dispatch test', messages: [{ text: 'Olá {{primeiro_nome|cliente}}!' }], audience: { all: true }, instanceIds, ...input },
    'test',
  );
  return c.id;
}

export async function newRunningCampaign(tenantId: string, instanceIds: string[], input: Partial<CampaignInput> = {}) {
  const id = await newCampaign(tenantId, instanceIds, input);
  await startCampaign(tenantId, id, 'test');
  return id;
}

export async function campaignRow(id: string) {
  return prisma.campaign.findUniqueOrThrow({ where: { id } });
}

export async function logsOf(campaignId: string, type?: LogType) {
  return prisma.campaignLog.findMany({ where: { campaignId, ...(type ? { type } : {}) }, orderBy: { id: 'asc' } });
}

export function sendsTo(sends: readonly SimSend[], phones: readonly string[]): SimSend[] {
  const set = new Set(phones.map((p) => p.replace(/\D/g, '')));
  return sends.filter((s) => set.has(s.number));
}

/** No number received more than one message. */
export function expectNoDuplicate(sends: readonly SimSend[]) {
  const seen = new Map<string, number>();
  for (const s of sends) seen.set(s.number, (seen.get(s.number) ?? 0) + 1);
  const twice = [...seen].filter(([, n]) => n > 1);
  expect(twice, `numbers that received more than one message: ${JSON.stringify(twice.slice(0, 5))}`).toEqual([]);
}

/** The campaign's counters equal a recount of its recipients (both read in one statement: one snapshot). */
export async function expectCountersMatchRecount(campaignId: string) {
  const [row] = await prisma.$queryRaw<Array<{ counters: Record<string, number>; recount: Record<string, number> }>>`
    SELECT json_build_object('targeted', c.targeted_count, 'sent', c.sent_count, 'delivered', c.delivered_count, 'read', c.read_count,
             'failed', c.failed_count, 'skipped', c.skipped_count, 'unknown', c.unknown_count, 'remaining', c.remaining_count) AS counters,
           (SELECT json_build_object('targeted', count(*), 'sent', count(sent_at), 'delivered', count(delivered_at), 'read', count(read_at),
             'failed', count(*) FILTER (WHERE status = 'FAILED'), 'skipped', count(*) FILTER (WHERE status = 'SKIPPED'),
             'unknown', count(*) FILTER (WHERE status = 'UNKNOWN'),
             'remaining', count(*) FILTER (WHERE status IN ('PENDING', 'QUEUED', 'SENDING')))
            FROM recipient r WHERE r.campaign_id = c.id) AS recount
    FROM campaign c WHERE c.id = ${campaignId}::uuid`;
  expect(row?.counters).toEqual(row?.recount);
  return row?.recount as Record<string, number>;
}

export async function statusCounts(campaignId: string): Promise<Record<string, number>> {
  const rows = await prisma.$queryRaw<Array<{ status: string; n: number }>>`
    SELECT status::text, count(*)::int AS n FROM recipient WHERE campaign_id = ${campaignId}::uuid GROUP BY 1`;
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}
