import { appendLogs } from '../campaigns/logs.js';
import { bumpCampaign } from '../campaigns/progress.js';
import { reachableSql } from '../campaigns/audience.js';
import type { Tx } from '../../infra/db/client.js';
import type { AfterCommit } from '../../infra/db/transaction.js';
import { GOLDEN, variantLowerBounds } from '../../domain/ab-split.js';
import { Prisma, type SkipReason } from '../../generated/prisma/client.js';

// A campaign's recipients as a set: frozen at start, skipped, queued again, given their variation.
// (Single recipients' transitions: claim.ts, outcomes.ts, record-sent.ts, receipts.ts, engagement.ts.)

export interface FreezeAudience {
  tenantId: string;
  campaignId: string;
  /** SQL condition on the contact (alias c): the campaign's audience. */
  audience: Prisma.Sql;
  messages: ReadonlyArray<{ id: string; abVariant: string | null; abWeight: number | null }>;
  /** Each contact's own time zone (else the tenant's) for the sending window. */
  contactZones: boolean;
  tenantZone: string;
  /** The A/B test's share of the audience (its hold-out waits PENDING without a variation); null: no A/B test. */
  abTestShare: number | null;
}

/**
 * Freezes the audience into recipients with one INSERT … SELECT (no per-row loop), in contact order,
 * with the time zone their window is evaluated in, dealing the variations in rotation, or by the A/B
 * split (mirrors domain/ab-split.ts: test membership and rank k by seq, variant by the Weyl sequence).
 * Returns how many recipients were frozen and how many of them wait for the A/B winner.
 */
export async function freezeAudience(tx: Tx, f: FreezeAudience): Promise<{ frozen: number; heldOut: number }> {
  const messageIds = f.messages.map((m) => m.id);
  const zone = f.contactZones ? Prisma.sql`COALESCE(c.timezone, ${f.tenantZone})` : Prisma.sql`${f.tenantZone}::text`;
  const ab = f.abTestShare !== null;
  const share = ab ? Math.min(0.999, Math.max(0, f.abTestShare ?? 0)) : 0;
  const inTest = share > 0 ? Prisma.sql`floor(a.seq * ${share}::float8) > floor((a.seq - 1) * ${share}::float8)` : Prisma.sql`true`;
  const rank = share > 0 ? Prisma.sql`floor(a.seq * ${share}::float8)` : Prisma.sql`a.seq`;
  const bucket = Prisma.sql`width_bucket(((${rank} - 1) * ${GOLDEN}::float8) - floor((${rank} - 1) * ${GOLDEN}::float8), ${variantLowerBounds(f.messages.map((m) => m.abWeight))}::float8[])`;
  const message = ab ? Prisma.sql`(${messageIds}::uuid[])[${bucket}]` : Prisma.sql`(${messageIds}::uuid[])[((a.seq - 1) % ${messageIds.length}) + 1]`;
  const variant = ab ? Prisma.sql`(${f.messages.map((m) => m.abVariant ?? '')}::text[])[${bucket}]` : Prisma.sql`NULL::text`;
  const frozen = await tx.$executeRaw`
    INSERT INTO recipient (tenant_id, campaign_id, contact_id, seq, phone, timezone, status, message_id, ab_variant, queued_at, updated_at)
    SELECT ${f.tenantId}::uuid, ${f.campaignId}::uuid, a.id, a.seq, a.phone, a.zone,
           CASE WHEN ${inTest} THEN 'QUEUED' ELSE 'PENDING' END::"RecipientStatus",
           CASE WHEN ${inTest} THEN ${message} END,
           CASE WHEN ${inTest} THEN NULLIF(${variant}, '') END,
           CASE WHEN ${inTest} THEN now() END, now()
    FROM (
      SELECT c.id, c.phone, ${zone} AS zone, row_number() OVER (ORDER BY c.created_at, c.id)::int AS seq
      FROM contact c
      WHERE c.tenant_id = ${f.tenantId}::uuid AND ${reachableSql(f.tenantId)} AND (${f.audience})
    ) a
    ON CONFLICT (campaign_id, contact_id) DO NOTHING`;
  if (frozen === 0 || share === 0) return { frozen, heldOut: 0 };
  const [held] = await tx.$queryRaw<Array<{ n: number }>>`
    SELECT count(*)::int AS n FROM recipient WHERE campaign_id = ${f.campaignId}::uuid AND status = 'PENDING'`;
  return { frozen, heldOut: held?.n ?? 0 };
}

/** Recipients of the campaign still waiting (not yet claimed) are skipped with `reason`; returns how many. */
export async function skipWaiting(tx: Tx, campaignId: string, reason: SkipReason, text: string): Promise<number> {
  return tx.$executeRaw`
    UPDATE recipient SET status = 'SKIPPED', skipped_at = now(), skip_reason = ${reason}::"SkipReason", error = ${text}, updated_at = now()
    WHERE campaign_id = ${campaignId}::uuid AND status IN ('PENDING', 'QUEUED')`;
}

/**
 * Recipients of these contacts that are still waiting are skipped (set-based, counters per
 * campaign), and their pending follow-ups cancelled: an opted-out or blocked contact never receives.
 */
export async function withdrawContacts(
  tx: Tx,
  after: AfterCommit,
  tenantId: string,
  contactIds: string[],
  why: SkipReason,
  reason: string,
  actor: string,
) {
  if (contactIds.length === 0) return 0;
  const skipped = await tx.$queryRaw<Array<{ id: string; campaign_id: string; contact_id: string }>>`
    UPDATE recipient SET status = 'SKIPPED', skipped_at = now(), skip_reason = ${why}::"SkipReason", error = ${reason}, updated_at = now()
    WHERE tenant_id = ${tenantId}::uuid AND contact_id = ANY(${contactIds}::uuid[]) AND status IN ('PENDING', 'QUEUED')
    RETURNING id, campaign_id, contact_id`;
  await tx.$executeRaw`
    UPDATE follow_up SET status = 'CANCELLED', cancelled_at = now()
    WHERE tenant_id = ${tenantId}::uuid AND contact_id = ANY(${contactIds}::uuid[]) AND status IN ('PENDING', 'SCHEDULED')`;
  const byCampaign = new Map<string, number>();
  for (const s of skipped) byCampaign.set(s.campaign_id, (byCampaign.get(s.campaign_id) ?? 0) + 1);
  await appendLogs(
    tx,
    after,
    skipped.map((s) => ({
      tenantId,
      campaignId: s.campaign_id,
      contactId: s.contact_id,
      recipientId: s.id,
      type: 'CONTACT_REMOVED' as const,
      message: `recipient skipped: ${reason}`,
      details: { reason: why },
      actor,
    })),
  );
  for (const [campaignId, n] of [...byCampaign].sort()) await bumpCampaign(tx, after, campaignId, { skipped: n, remaining: -n });
  return skipped.length;
}

/**
 * Recipients whose outcome stayed unknown after reconciliation, queued again knowingly (the operator
 * confirmed): outcomes still being resolved are left to the reconciler. Returns how many.
 */
export async function requeueUnknownKnowingly(tx: Tx, campaignId: string, actor: string): Promise<number> {
  return tx.$executeRaw`
    UPDATE recipient SET status = 'QUEUED', error = NULL, error_code = NULL, not_before = NULL, claim_token = NULL,
      sending_at = NULL, instance_id = NULL, request_key_id = NULL, confirmed_key_id = NULL, queued_at = now(), updated_at = now(),
      evidence = COALESCE(evidence, '{}'::jsonb) || jsonb_build_object('resentBy', ${actor}::text, 'resentAt', now())
    WHERE campaign_id = ${campaignId}::uuid AND status = 'UNKNOWN' AND reconcile_at IS NULL AND provider_message_id IS NULL`;
}

/** Recipients that FAILED without their message leaving, with one of `codes`, queued again with fresh attempts. */
export async function requeueRetryable(tx: Tx, campaignId: string, codes: readonly string[]): Promise<number> {
  return tx.$executeRaw`
    UPDATE recipient SET status = 'QUEUED', attempts = 0, error = NULL, error_code = NULL, failed_at = NULL,
      not_before = NULL, claim_token = NULL, sending_at = NULL, queued_at = now(), updated_at = now()
    WHERE campaign_id = ${campaignId}::uuid AND status = 'FAILED' AND sent_at IS NULL
      AND error_code = ANY(${[...codes]}::text[])`;
}

/** Recipients still waiting get these variations, in rotation (the campaign's messages were replaced). */
export async function reassignWaitingMessages(tx: Tx, campaignId: string, messageIds: string[]): Promise<void> {
  if (messageIds.length === 0) return;
  await tx.$executeRaw`
    UPDATE recipient SET message_id = (${messageIds}::uuid[])[((seq - 1) % ${messageIds.length}) + 1]
    WHERE campaign_id = ${campaignId}::uuid AND status IN ('QUEUED', 'PENDING')`;
}

/** The A/B hold-out gets the winning variation and is queued; returns how many. */
export async function releaseHoldOut(tx: Tx, campaignId: string, winnerMessageId: string): Promise<number> {
  return tx.$executeRaw`
    UPDATE recipient SET status = 'QUEUED', message_id = ${winnerMessageId}::uuid, queued_at = now(), updated_at = now()
    WHERE campaign_id = ${campaignId}::uuid AND status = 'PENDING' AND message_id IS NULL`;
}
