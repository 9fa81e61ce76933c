import type { Tx } from '../../infra/db/client.js';
import { inTransaction } from '../../infra/db/transaction.js';
import { Prisma } from '../../generated/prisma/client.js';
import { requeueRetryable, requeueUnknownKnowingly } from '../recipients/audience.js';
import { lockForTransition, schedulePump } from './lifecycle.js';
import { appendLog, type LogEntry } from './logs.js';
import { bumpCampaign } from './progress.js';

// Sending again what did not go: failed sends that certainly did not leave, and (knowingly) unknown
// outcomes reconciliation could not decide.

/**
 * Sends again, knowingly, the recipients whose outcome stayed unknown after reconciliation (Evolution
 * could not show whether their message left): some of those people may get the message twice, which
 * is why the caller must confirm. Outcomes still being resolved are left to the reconciler.
 */
export async function resendUnknown(tenantId: string, campaignId: string, actor: string): Promise<number> {
  return requeueAndReopen(tenantId, campaignId, actor, {
    requeue: (tx) => requeueUnknownKnowingly(tx, campaignId, actor),
    from: 'unknown',
    log: (n, reopen) => ({
      type: 'RESENT',
      severity: 'WARNING',
      message: `${n} recipients whose outcome stayed unknown queued again, knowingly (some may get the message twice)${reopen ? '; the campaign runs again' : ''}`,
    }),
  });
}

/** Error codes of sends that certainly did not reach WhatsApp (so sending again cannot duplicate). */
export const RETRYABLE_ERROR_CODES = ['UNAVAILABLE', 'REJECTED'] as const;

/**
 * Re-queues recipients that FAILED without their message leaving (Evolution unavailable, or refused
 * it). Messages WhatsApp reported as failed, numbers not on WhatsApp and unknown outcomes are not
 * retried. A completed campaign runs again for them.
 */
export async function retryFailed(tenantId: string, campaignId: string, actor: string): Promise<number> {
  return requeueAndReopen(tenantId, campaignId, actor, {
    requeue: (tx) => requeueRetryable(tx, campaignId, RETRYABLE_ERROR_CODES),
    from: 'failed',
    log: (n, reopen) => ({ type: reopen ? 'RESUMED' : 'UPDATED', message: `${n} failed recipients queued again${reopen ? '; the campaign runs again' : ''}` }),
  });
}

/**
 * Queues some settled recipients again (moving them from the `from` counter back to remaining), resets
 * the campaign's consecutive errors, and runs a completed campaign again; a paused one stays paused.
 */
async function requeueAndReopen(
  tenantId: string,
  campaignId: string,
  actor: string,
  how: { requeue: (tx: Tx) => Promise<number>; from: 'unknown' | 'failed'; log: (n: number, reopen: boolean) => Pick<LogEntry, 'type' | 'severity' | 'message'> },
): Promise<number> {
  return inTransaction(async (tx, after) => {
    const { campaign } = await lockForTransition(tx, tenantId, campaignId, 'retry');
    const requeued = await how.requeue(tx);
    if (requeued === 0) return 0;
    const reopen = campaign.status === 'COMPLETED';
    const progress = await bumpCampaign(tx, after, campaignId, { [how.from]: -requeued, remaining: requeued }, [
      Prisma.sql`consecutive_errors = 0`,
      ...(reopen ? [Prisma.sql`status = 'RUNNING'`, Prisma.sql`completed_at = NULL`] : []),
    ]);
    await appendLog(tx, after, { tenantId, campaignId, ...how.log(requeued, reopen), details: { requeued }, progress: progress ? { ...progress } : undefined, actor });
    if (campaign.status !== 'PAUSED') schedulePump(after, tenantId, campaignId);
    return requeued;
  });
}
