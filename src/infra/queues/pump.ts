import { clock } from '../lib/clock.js';
import { jobId } from './definitions.js';
import { enqueue } from './index.js';

/** Pump requests within one tick share a job id, so a burst of requests becomes one pump. */
const PUMP_TICK_MS = 100;

/** Asks a worker to pump the campaign (schedule its next sends) after `delayMs`. */
export function requestCampaignPump(tenantId: string, campaignId: string, delayMs = 0): Promise<void> {
  const at = clock.ms() + Math.max(0, delayMs);
  return enqueue(
    'campaigns',
    'campaign:pump',
    { tenantId, campaignId },
    { jobId: jobId('pump', campaignId, Math.floor(at / PUMP_TICK_MS)), delay: Math.max(0, delayMs) },
  ).then(() => undefined);
}

/** Asks a worker for a follow-up pass after `delayMs` (requests within a tick share one job). */
export function requestFollowUpPass(delayMs = 0): Promise<void> {
  const at = clock.ms() + Math.max(0, delayMs);
  return enqueue('campaigns', 'follow-ups:pump', {}, { jobId: jobId('follow-ups', Math.floor(at / 1000)), delay: Math.max(0, delayMs) }).then(() => undefined);
}
