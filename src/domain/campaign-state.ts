/**
 * The campaign lifecycle: DRAFT → SCHEDULED → RUNNING ⇄ PAUSED → COMPLETED, and CANCELLED from any
 * state before COMPLETED. Pure: callers apply the result inside a transaction that locked the row.
 */
export const CAMPAIGN_STATUSES = ['DRAFT', 'SCHEDULED', 'RUNNING', 'PAUSED', 'COMPLETED', 'CANCELLED'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

export type CampaignAction = 'schedule' | 'unschedule' | 'start' | 'pause' | 'resume' | 'cancel' | 'complete' | 'retry';

const TRANSITIONS: Record<CampaignAction, { from: readonly CampaignStatus[]; to: CampaignStatus }> = {
  schedule: { from: ['DRAFT'], to: 'SCHEDULED' },
  unschedule: { from: ['SCHEDULED'], to: 'DRAFT' },
  start: { from: ['DRAFT', 'SCHEDULED'], to: 'RUNNING' },
  pause: { from: ['RUNNING'], to: 'PAUSED' },
  resume: { from: ['PAUSED'], to: 'RUNNING' },
  cancel: { from: ['DRAFT', 'SCHEDULED', 'RUNNING', 'PAUSED'], to: 'CANCELLED' },
  complete: { from: ['RUNNING'], to: 'COMPLETED' },
  // Re-queues failed recipients; a completed campaign runs again for them, a paused one stays paused.
  retry: { from: ['RUNNING', 'PAUSED', 'COMPLETED'], to: 'RUNNING' },
};

/** The status an action leads to, or null when it is not allowed from `from`. */
export function nextStatus(from: CampaignStatus, action: CampaignAction): CampaignStatus | null {
  const t = TRANSITIONS[action];
  return t.from.includes(from) ? t.to : null;
}

export function allowedFrom(action: CampaignAction): readonly CampaignStatus[] {
  return TRANSITIONS[action].from;
}

/** Settings and variations may change only while nothing is being sent. */
export const EDITABLE_STATUSES: readonly CampaignStatus[] = ['DRAFT', 'SCHEDULED', 'PAUSED'];
export const DELETABLE_STATUSES: readonly CampaignStatus[] = ['DRAFT'];
export const FINISHED_STATUSES: readonly CampaignStatus[] = ['COMPLETED', 'CANCELLED'];
