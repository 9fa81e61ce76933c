import type { Tx } from '../db/client.js';
import { prisma } from '../db/client.js';
import { type AfterCommit, inTransaction } from '../db/transaction.js';
import { allowedFrom, type CampaignAction, type CampaignStatus, nextStatus } from '../domain/campaign-state.js';
import { usableForStart } from '../domain/instances.js';
import { CampaignNotReadyError, InvalidTransitionError, NotFoundError } from '../errors.js';
import { Prisma } from '../generated/prisma/client.js';
import { config } from '../config/index.js';
import { enqueue } from '../queues/index.js';
import { jobId } from '../queues/definitions.js';
import { type Audience, audienceSql, reachable, type TagRules } from './audience.js';
import { appendLog } from './logs.js';
import { bumpCampaign } from './progress.js';

interface LockedCampaign {
  id: string;
  tenant_id: string;
  status: CampaignStatus;
  audience_type: 'ALL' | 'SEGMENT' | 'RULES' | 'CONTACTS';
  audience_rules: unknown;
  audience_contact_ids: string[];
  audience_segment_id: string | null;
}

/**
 * Locks the campaign row (FOR UPDATE) and checks that `action` is allowed from its status.
 *
 * FOR UPDATE also conflicts with the FOR KEY SHARE lock that a send's claim takes on the campaign
 * row: a status change waits for claims in progress, and a claim that comes after sees the new
 * status. That is what makes "once pause returns, no further send starts" hold.
 */
async function lockForTransition(tx: Tx, tenantId: string, campaignId: string, action: CampaignAction) {
  const rows = await tx.$queryRaw<LockedCampaign[]>`
    SELECT id, tenant_id, status, audience_type, audience_rules, audience_contact_ids, audience_segment_id
    FROM campaign WHERE id = ${campaignId}::uuid AND tenant_id = ${tenantId}::uuid FOR UPDATE`;
  const campaign = rows[0];
  if (!campaign) throw new NotFoundError('Campaign', campaignId);
  const to = nextStatus(campaign.status, action);
  if (!to) throw new InvalidTransitionError('campaign', campaign.status, action, allowedFrom(action));
  return { campaign, to };
}

async function storedAudience(tx: Tx, c: LockedCampaign): Promise<Audience> {
  switch (c.audience_type) {
    case 'ALL':
      return { type: 'ALL' };
    case 'CONTACTS':
      return { type: 'CONTACTS', contactIds: c.audience_contact_ids };
    case 'RULES':
      return { type: 'RULES', rules: (c.audience_rules ?? {}) as TagRules };
    case 'SEGMENT': {
      const segment = c.audience_segment_id
        ? await tx.segment.findFirst({ where: { id: c.audience_segment_id, tenantId: c.tenant_id }, select: { rules: true } })
        : null;
      return { type: 'RULES', rules: (segment?.rules ?? { tagsAny: ['\u0000no-segment'] }) as TagRules };
    }
  }
}

function schedulePump(after: AfterCommit, tenantId: string, campaignId: string) {
  after.defer(() =>
    enqueue('campaigns', 'campaign:pump', { tenantId, campaignId }, { jobId: jobId('pump', campaignId, 'start', Date.now()) }),
  );
}

/**
 * Starts a campaign: freezes its audience into recipients with one INSERT … SELECT (no per-row loop),
 * assigns each recipient its variation in rotation, and hands pacing to the workers.
 */
export async function startCampaign(tenantId: string, campaignId: string, actor: string) {
  return inTransaction(
    async (tx, after) => {
      const { campaign } = await lockForTransition(tx, tenantId, campaignId, 'start');
      const messages = await tx.campaignMessage.findMany({
        where: { campaignId, tenantId },
        orderBy: [{ order: 'asc' }, { createdAt: 'asc' }],
        select: { id: true },
      });
      if (messages.length === 0) throw new CampaignNotReadyError('NO_VARIATION', 'the campaign has no message variation');

      const links = await tx.campaignInstance.findMany({
        where: { campaignId, tenantId },
        select: { instance: { select: { id: true, manuallyPaused: true, autoPausedAt: true, connectionState: true } } },
      });
      if (!links.some((l) => usableForStart(l.instance))) {
        throw new CampaignNotReadyError(
          'NO_USABLE_INSTANCE',
          links.length === 0
            ? 'the campaign has no sender instance'
            : 'none of the campaign instances can send (all paused or disconnected)',
        );
      }

      const audience = await storedAudience(tx, campaign);
      const messageIds = messages.map((m) => m.id);
      const frozen = await tx.$executeRaw`
        INSERT INTO recipient (tenant_id, campaign_id, contact_id, seq, phone, status, message_id, queued_at, updated_at)
        SELECT ${tenantId}::uuid, ${campaignId}::uuid, a.id, a.seq, a.phone, 'QUEUED',
               (${messageIds}::uuid[])[((a.seq - 1) % ${messageIds.length}) + 1], now(), now()
        FROM (
          SELECT c.id, c.phone, row_number() OVER (ORDER BY c.created_at, c.id)::int AS seq
          FROM contact c
          WHERE c.tenant_id = ${tenantId}::uuid AND ${reachable()} AND (${audienceSql(audience)})
        ) a
        ON CONFLICT (campaign_id, contact_id) DO NOTHING`;
      if (frozen === 0) throw new CampaignNotReadyError('EMPTY_AUDIENCE', 'the audience has no contact that can receive messages');

      const progress = await bumpCampaign(tx, after, campaignId, { targeted: frozen, remaining: frozen }, [
        Prisma.sql`status = 'RUNNING'`,
        Prisma.sql`started_at = now()`,
        Prisma.sql`paused_at = NULL`,
        Prisma.sql`pause_reason = NULL`,
      ]);
      await appendLog(tx, after, {
        tenantId,
        campaignId,
        type: 'STARTED',
        message: `campaign started with ${frozen} recipients`,
        details: { recipients: frozen, variations: messageIds.length, audience: audience.type },
        progress: progress ? { ...progress } : undefined,
        actor,
      });
      schedulePump(after, tenantId, campaignId);
      return frozen;
    },
    { timeout: 120_000 },
  );
}

/** Recipients whose send is in flight; pause and cancel wait for them so that none starts after they return. */
async function waitForInflightSends(campaignId: string) {
  const deadline = Date.now() + config.evolutionTimeoutMs + 1000;
  while (Date.now() < deadline) {
    const [row] = await prisma.$queryRaw<Array<{ n: number }>>`
      SELECT count(*)::int AS n FROM recipient WHERE campaign_id = ${campaignId}::uuid AND status = 'SENDING'`;
    if (!row || row.n === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function pauseCampaign(tenantId: string, campaignId: string, actor: string, reason: string | null = null) {
  await inTransaction(async (tx, after) => {
    await lockForTransition(tx, tenantId, campaignId, 'pause');
    const progress = await bumpCampaign(tx, after, campaignId, {}, [
      Prisma.sql`status = 'PAUSED'`,
      Prisma.sql`paused_at = now()`,
      Prisma.sql`pause_reason = ${reason}`,
    ]);
    await appendLog(tx, after, {
      tenantId,
      campaignId,
      type: 'PAUSED',
      message: reason ? `campaign paused: ${reason}` : 'campaign paused',
      details: reason ? { reason } : undefined,
      progress: progress ? { ...progress } : undefined,
      actor,
    });
  });
  await waitForInflightSends(campaignId);
}

export async function resumeCampaign(tenantId: string, campaignId: string, actor: string) {
  await inTransaction(async (tx, after) => {
    await lockForTransition(tx, tenantId, campaignId, 'resume');
    const progress = await bumpCampaign(tx, after, campaignId, {}, [
      Prisma.sql`status = 'RUNNING'`,
      Prisma.sql`paused_at = NULL`,
      Prisma.sql`pause_reason = NULL`,
      Prisma.sql`consecutive_errors = 0`,
    ]);
    await appendLog(tx, after, {
      tenantId,
      campaignId,
      type: 'RESUMED',
      message: 'campaign resumed',
      progress: progress ? { ...progress } : undefined,
      actor,
    });
    schedulePump(after, tenantId, campaignId);
  });
}

/** Cancels: recipients not yet sent are skipped (set-based), and nothing else is sent. */
export async function cancelCampaign(tenantId: string, campaignId: string, actor: string) {
  await inTransaction(async (tx, after) => {
    await lockForTransition(tx, tenantId, campaignId, 'cancel');
    const skipped = await tx.$executeRaw`
      UPDATE recipient SET status = 'SKIPPED', skipped_at = now(), error = 'campaign cancelled', updated_at = now()
      WHERE campaign_id = ${campaignId}::uuid AND status IN ('PENDING', 'QUEUED')`;
    const progress = await bumpCampaign(tx, after, campaignId, { skipped, remaining: -skipped }, [
      Prisma.sql`status = 'CANCELLED'`,
      Prisma.sql`cancelled_at = now()`,
    ]);
    await appendLog(tx, after, {
      tenantId,
      campaignId,
      type: 'CANCELLED',
      message: `campaign cancelled; ${skipped} recipients skipped`,
      details: { skipped },
      progress: progress ? { ...progress } : undefined,
      actor,
    });
  });
  await waitForInflightSends(campaignId);
}

/**
 * Completes a RUNNING campaign when no recipient is left to send (deliveries may still arrive).
 * Safe to call from anywhere at any time: it only acts when the condition holds.
 */
export async function completeIfDone(tenantId: string, campaignId: string): Promise<boolean> {
  return inTransaction(async (tx, after) => {
    const rows = await tx.$queryRaw<Array<{ id: string }>>`
      SELECT id FROM campaign WHERE id = ${campaignId}::uuid AND tenant_id = ${tenantId}::uuid AND status = 'RUNNING'
        AND NOT EXISTS (SELECT 1 FROM recipient WHERE campaign_id = ${campaignId}::uuid AND status IN ('PENDING', 'QUEUED', 'SENDING'))
      FOR UPDATE`;
    if (rows.length === 0) return false;
    const progress = await bumpCampaign(tx, after, campaignId, {}, [Prisma.sql`status = 'COMPLETED'`, Prisma.sql`completed_at = now()`]);
    await appendLog(tx, after, {
      tenantId,
      campaignId,
      type: 'COMPLETED',
      message: progress
        ? `campaign completed: ${progress.sent} sent, ${progress.delivered} delivered, ${progress.read} read, ${progress.failed} failed, ${progress.skipped} skipped, ${progress.unknown} unknown`
        : 'campaign completed',
      progress: progress ? { ...progress } : undefined,
      actor: 'worker',
    });
    return true;
  });
}

/** Pauses a campaign on the system's behalf (no usable instance, error threshold); no-op unless RUNNING. */
export async function autoPauseCampaign(tenantId: string, campaignId: string, reason: string, details: Prisma.InputJsonValue = {}) {
  return inTransaction(async (tx, after) => {
    const rows = await tx.$queryRaw<Array<{ id: string }>>`
      SELECT id FROM campaign WHERE id = ${campaignId}::uuid AND tenant_id = ${tenantId}::uuid AND status = 'RUNNING' FOR UPDATE`;
    if (rows.length === 0) return false;
    const progress = await bumpCampaign(tx, after, campaignId, {}, [
      Prisma.sql`status = 'PAUSED'`,
      Prisma.sql`paused_at = now()`,
      Prisma.sql`pause_reason = ${reason}`,
    ]);
    await appendLog(tx, after, {
      tenantId,
      campaignId,
      type: 'PAUSED',
      severity: 'WARNING',
      message: `campaign paused automatically: ${reason}`,
      details,
      progress: progress ? { ...progress } : undefined,
      actor: 'system',
    });
    return true;
  });
}
