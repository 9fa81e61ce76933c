/**
 * The health rules applied to instances (domain/health.ts): automatic pause below the tenant's
 * threshold, recovery while resting, and gradual re-admission after the cool-down.
 */
import { appendLog } from '../campaigns/logs.js';
import type { Tx } from '../../infra/db/client.js';
import { prisma } from '../../infra/db/client.js';
import { type AfterCommit, inTransaction } from '../../infra/db/transaction.js';
import { belowThreshold, healthStatus, readmissionDue, recoveredScore } from '../../domain/health.js';
import { clock } from '../../infra/lib/clock.js';
import { logger } from '../../infra/lib/logger.js';
import { publishSafely } from '../../infra/realtime/pubsub.js';

export type PumpRequest = (tenantId: string, campaignId: string) => Promise<void>;

interface PausedRow {
  tenant_id: string;
  name: string;
  health_score: number;
  threshold: number;
  cooldown: number;
  consecutive_errors: number;
  sent_today: number;
  failed_today: number;
}

async function runningCampaignsOf(tx: Tx, instanceId: string) {
  return tx.$queryRaw<Array<{ id: string }>>`
    SELECT c.id FROM campaign c JOIN campaign_instance ci ON ci.campaign_id = c.id
    WHERE ci.instance_id = ${instanceId}::uuid AND c.status = 'RUNNING' ORDER BY c.id`;
}

/**
 * Pauses the instance if its score is below its tenant's threshold and it is not paused yet:
 * `health_issue` and `instance_paused` in each running campaign that uses it (or once for the
 * tenant when none does). Returns the campaigns to pump (their rotation changes), or null.
 */
export async function pauseIfUnhealthy(tx: Tx, after: AfterCommit, instanceId: string, now: Date) {
  const [row] = await tx.$queryRaw<PausedRow[]>`
    SELECT i.tenant_id, i.name, i.health_score, t.health_pause_threshold AS threshold, t.health_cooldown_minutes AS cooldown,
           i.consecutive_errors, i.sent_today, i.failed_today
    FROM whatsapp_instance i JOIN tenant t ON t.id = i.tenant_id
    WHERE i.id = ${instanceId}::uuid AND i.auto_paused_at IS NULL AND NOT i.manually_paused
    FOR UPDATE OF i`;
  if (!row || !belowThreshold(row.health_score, row.threshold)) return null;
  await tx.$executeRaw`UPDATE whatsapp_instance SET auto_paused_at = ${now}, updated_at = now() WHERE id = ${instanceId}::uuid`;
  const health = {
    score: row.health_score,
    status: healthStatus(row.health_score),
    threshold: row.threshold,
    consecutiveErrors: row.consecutive_errors,
    sentToday: row.sent_today,
    failedToday: row.failed_today,
  };
  const campaigns = await runningCampaignsOf(tx, instanceId);
  for (const campaignId of campaigns.length ? campaigns.map((c) => c.id) : [null]) {
    await appendLog(tx, after, {
      tenantId: row.tenant_id,
      campaignId,
      instanceId,
      type: 'HEALTH_ISSUE',
      severity: 'WARNING',
      message: `health score of instance ${row.name} fell to ${Math.round(row.health_score * 10) / 10}, below the threshold of ${row.threshold}`,
      details: health,
      health,
      actor: 'system',
    });
    await appendLog(tx, after, {
      tenantId: row.tenant_id,
      campaignId,
      instanceId,
      type: 'INSTANCE_PAUSED',
      severity: 'WARNING',
      message: `instance ${row.name} paused automatically for poor health; it rests at least ${row.cooldown} minutes and comes back gradually once its score recovers`,
      details: { reason: 'health', ...health, cooldownMinutes: row.cooldown },
      health,
      actor: 'system',
    });
  }
  after.publish('instance:health', { tenantId: row.tenant_id, instanceId });
  return { tenantId: row.tenant_id, campaigns: campaigns.map((c) => c.id) };
}

/** Applies the threshold to one instance (after its score dropped) and pumps the campaigns it affects. */
export async function checkInstanceHealth(instanceId: string, pump: PumpRequest, now: Date = clock.now()): Promise<boolean> {
  const paused = await inTransaction((tx, after) => pauseIfUnhealthy(tx, after, instanceId, now));
  if (!paused) return false;
  for (const c of paused.campaigns) await pump(paused.tenantId, c);
  return true;
}

interface RestingRow {
  id: string;
  tenant_id: string;
  name: string;
  health_score: number;
  auto_paused_at: Date;
  last_health_update_at: Date | null;
  connection_state: string;
  disconnected_since: Date | null;
  manually_paused: boolean;
  threshold: number;
  cooldown: number;
  recovery: number;
}

/**
 * The periodic health pass: pauses instances below the threshold that no check caught, lets resting
 * instances recover their score, and re-admits those whose cool-down is over and whose score is back
 * (limits ramp up from a quarter, see domain/instances.ts), logging `instance_resumed` in the running
 * campaigns that use them and pumping those.
 */
export async function healthMaintenance(pump: PumpRequest, now: Date = clock.now()) {
  const unhealthy = await prisma.$queryRaw<Array<{ id: string }>>`
    SELECT i.id FROM whatsapp_instance i JOIN tenant t ON t.id = i.tenant_id
    WHERE i.auto_paused_at IS NULL AND NOT i.manually_paused AND i.health_score < t.health_pause_threshold
    LIMIT 1000`;
  let paused = 0;
  for (const i of unhealthy) if (await checkInstanceHealth(i.id, pump, now)) paused++;

  const resting = await prisma.$queryRaw<RestingRow[]>`
    SELECT i.id, i.tenant_id, i.name, i.health_score, i.auto_paused_at, i.last_health_update_at, i.connection_state::text, i.disconnected_since,
           i.manually_paused, t.health_pause_threshold AS threshold, t.health_cooldown_minutes AS cooldown,
           t.health_recovery_per_hour AS recovery
    FROM whatsapp_instance i JOIN tenant t ON t.id = i.tenant_id
    WHERE i.auto_paused_at IS NOT NULL
    LIMIT 1000`;
  let readmitted = 0;
  for (const r of resting) {
    const since = Math.max(r.auto_paused_at.getTime(), r.last_health_update_at?.getTime() ?? 0);
    const score = recoveredScore(r.health_score, r.recovery, now.getTime() - since);
    const due = readmissionDue(
      { autoPausedAt: r.auto_paused_at, healthScore: score, connectionState: r.connection_state, manuallyPaused: r.manually_paused, disconnectedSince: r.disconnected_since },
      { cooldownMinutes: r.cooldown, threshold: r.threshold },
      now,
    );
    if (score === r.health_score && !due) continue;
    const result = await inTransaction(async (tx, after) => {
      // Only if nothing changed the instance since it was read (a receipt, an operator).
      const changed = await tx.$executeRaw`
        UPDATE whatsapp_instance
        SET health_score = ${score}, last_health_update_at = ${now},
            auto_paused_at = CASE WHEN ${due} THEN NULL ELSE auto_paused_at END,
            readmitted_at = CASE WHEN ${due} THEN ${now} ELSE readmitted_at END,
            consecutive_errors = CASE WHEN ${due} THEN 0 ELSE consecutive_errors END,
            updated_at = now()
        WHERE id = ${r.id}::uuid AND auto_paused_at = ${r.auto_paused_at} AND health_score = ${r.health_score}
          AND last_health_update_at IS NOT DISTINCT FROM ${r.last_health_update_at}`;
      if (!changed) return { readmitted: false, campaigns: [] };
      after.publish('instance:health', { tenantId: r.tenant_id, instanceId: r.id });
      if (!due) return { readmitted: false, campaigns: [] };
      const running = await runningCampaignsOf(tx, r.id);
      for (const campaignId of running.length ? running.map((c) => c.id) : [null]) {
        await appendLog(tx, after, {
          tenantId: r.tenant_id,
          campaignId,
          instanceId: r.id,
          type: 'INSTANCE_RESUMED',
          message: `instance ${r.name} re-admitted after its cool-down (health ${Math.round(score * 10) / 10}); its limits ramp up gradually`,
          details: { reason: 'health recovered', score, threshold: r.threshold, pausedAt: r.auto_paused_at.toISOString() },
          health: { score, status: healthStatus(score) },
          actor: 'system',
        });
      }
      return { readmitted: true, campaigns: running.map((c) => c.id) };
    });
    if (result.readmitted) readmitted++;
    for (const c of result.campaigns) await pump(r.tenant_id, c);
  }
  return { paused, resting: resting.length, readmitted };
}

/**
 * Resets instances' daily counters once their tenant's local day has changed since the last reset,
 * and announces each reset instance (live health feeds and the API servers' response caches then
 * show the zeroed counters at once).
 */
export async function resetDailyCounters(now: Date = clock.now()): Promise<number> {
  const reset = await prisma.$queryRaw<Array<{ id: string; tenant_id: string }>>`
    UPDATE whatsapp_instance i
    SET sent_today = 0, delivered_today = 0, read_today = 0, failed_today = 0, last_daily_reset_at = ${now}, updated_at = now()
    FROM tenant t
    WHERE i.tenant_id = t.id
      AND (i.last_daily_reset_at IS NULL
        OR (i.last_daily_reset_at AT TIME ZONE t.timezone)::date < (${now}::timestamptz AT TIME ZONE t.timezone)::date)
    RETURNING i.id, i.tenant_id`;
  for (const r of reset) {
    publishSafely('instance:health', { tenantId: r.tenant_id, instanceId: r.id }, (err) => logger.warn({ err, instanceId: r.id }, 'announcing a daily reset failed'));
  }
  return reset.length;
}
