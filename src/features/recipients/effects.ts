import { appendLogs, type LogEntry } from '../campaigns/logs.js';
import { bumpCampaign, type CounterDeltas } from '../campaigns/progress.js';
import type { Tx } from '../../infra/db/client.js';
import type { AfterCommit } from '../../infra/db/transaction.js';
import { Prisma } from '../../generated/prisma/client.js';
import { requestHealthCheck } from '../health/check.js';
import type { CampaignProgressEvent } from '../../infra/realtime/topics.js';

/** What a recipient's transition changes on the instance that sent it. */
export interface InstanceDeltas {
  sent: number;
  delivered: number;
  read: number;
  failed: number;
  /** Health score points (the sum; clamped to 0–100 by the update). */
  health: number;
  /** A send error: the instance's consecutive errors go up. */
  errors: boolean;
  /** A send went through: its consecutive errors are reset and its last success stamped (wins over `errors`). */
  succeeded?: boolean;
}

export interface Deltas {
  campaign: CounterDeltas;
  instance: InstanceDeltas;
}

export function noInstanceDeltas(): InstanceDeltas {
  return { sent: 0, delivered: 0, read: 0, failed: 0, health: 0, errors: false };
}

export function emptyDeltas(): Deltas {
  return { campaign: {}, instance: noInstanceDeltas() };
}

/**
 * Instance counters and health for a transition (or a batch of them), in one UPDATE. The score moves
 * by the summed delta and is clamped to 0–100; a delivery or read resets the consecutive errors, as
 * does a send that went through.
 */
export async function applyInstanceDeltas(tx: Tx, instanceId: string | null, d: InstanceDeltas) {
  if (!instanceId) return;
  const sets: Prisma.Sql[] = [];
  if (d.succeeded || (!d.errors && (d.delivered || d.read))) sets.push(Prisma.sql`consecutive_errors = 0`, Prisma.sql`last_success_at = now()`);
  else if (d.errors) sets.push(Prisma.sql`consecutive_errors = consecutive_errors + 1`);
  if (d.sent) sets.push(Prisma.sql`sent_today = sent_today + ${d.sent}`, Prisma.sql`total_sent = total_sent + ${d.sent}`);
  if (d.delivered) sets.push(Prisma.sql`delivered_today = delivered_today + ${d.delivered}`, Prisma.sql`total_delivered = total_delivered + ${d.delivered}`);
  if (d.read) sets.push(Prisma.sql`read_today = read_today + ${d.read}`, Prisma.sql`total_read = total_read + ${d.read}`);
  if (d.failed) sets.push(Prisma.sql`failed_today = GREATEST(0, failed_today + ${d.failed})`, Prisma.sql`total_failed = total_failed + ${d.failed}`);
  if (d.health) {
    sets.push(Prisma.sql`health_score = LEAST(100, GREATEST(0, health_score + ${d.health}))`, Prisma.sql`last_health_update_at = now()`);
  }
  if (sets.length === 0) return;
  await tx.$executeRaw`UPDATE whatsapp_instance SET ${Prisma.join(sets, ', ')}, updated_at = now() WHERE id = ${instanceId}::uuid`;
  if (d.health < 0) await requestHealthCheck(instanceId);
}

/** The side effects of one recipient transition (or one batch of them). */
export interface Effects {
  tenantId: string;
  instanceId?: string | null;
  instance?: Partial<InstanceDeltas>;
  /** Publish `instance:health` even when neither health nor failures moved (e.g. the instance was paused). */
  healthChanged?: boolean;
  logs?: readonly LogEntry[];
  campaignId?: string | null;
  counters?: CounterDeltas;
  /** Further campaign assignments (status, timestamps, the consecutive-error count). */
  campaignSets?: Prisma.Sql[];
  /** Update (and publish) the campaign's progress even when nothing counted changed: it may now be complete. */
  touchCampaign?: boolean;
}

/**
 * Records what a recipient transition does besides the recipient row, in the caller's transaction and
 * in the lock order used everywhere: the instance (its counters and health), then the log entries
 * (an instance's log order is then the order its score moved), then the campaign's counters (the
 * hottest row, locked last). Events are published after commit. Returns the campaign's progress when
 * it was updated.
 */
export async function recordEffects(tx: Tx, after: AfterCommit, e: Effects): Promise<CampaignProgressEvent | null> {
  if (e.instanceId && e.instance) {
    const d = { ...noInstanceDeltas(), ...e.instance };
    await applyInstanceDeltas(tx, e.instanceId, d);
    if (e.healthChanged || d.health || d.failed) after.publish('instance:health', { tenantId: e.tenantId, instanceId: e.instanceId });
  } else if (e.instanceId && e.healthChanged) {
    after.publish('instance:health', { tenantId: e.tenantId, instanceId: e.instanceId });
  }
  if (e.logs?.length) await appendLogs(tx, after, e.logs);
  if (!e.campaignId) return null;
  const hasCounters = Object.values(e.counters ?? {}).some((n) => n);
  if (!hasCounters && !e.campaignSets?.length && !e.touchCampaign) return null;
  return bumpCampaign(tx, after, e.campaignId, e.counters ?? {}, e.campaignSets ?? []);
}
