import { appendLogs, type LogEntry } from '../campaigns/logs.js';
import { bumpCampaign, type CounterDeltas } from '../campaigns/progress.js';
import type { Tx } from '../../infra/db/client.js';
import { type AfterCommit, inTransaction } from '../../infra/db/transaction.js';
import { clampHealth, healthDelta } from '../../domain/health.js';
import { applyReceipt, type ProviderStatus, type ReceiptChange } from '../../domain/receipts.js';
import { logger } from '../../infra/lib/logger.js';
import { applyInstanceDeltas, emptyDeltas } from './effects.js';
import { addChangeDeltas, afterChange, changeLogs, RECEIPT_COLUMNS, type ReceiptRecipient, toReceiptRecipient } from './receipts.js';

export interface ReceiptInput {
  tenantId: string;
  instanceId: string;
  keyId: string;
  status: ProviderStatus;
  /** The status as the webhook said it (`ERROR`, Meta's `FAILED`), for the log and the recipient's error. */
  word?: string;
  /** Why it failed, when the receipt says (Meta's errors). */
  detail?: string | null;
  /** Keep it for a send whose result is not stored yet when no recipient holds its key id (default true). */
  park?: boolean;
  at: Date;
}

interface Waiting {
  input: ReceiptInput;
  resolve: (outcome: string) => void;
  reject: (err: unknown) => void;
}

const MAX_BATCH = 200;

/**
 * Applies delivery receipts in batches: every receipt waiting when a batch starts goes into one
 * transaction, so the hottest rows (the campaign's counters, the instance's health) are updated once
 * per batch instead of once per receipt. One batch runs at a time per process; receipts arriving
 * meanwhile form the next one, so a quiet process adds no delay and a busy one makes bigger batches.
 *
 * The result is the same as applying the receipts one by one in the batch's order (itself one of the
 * possible arrival orders): each recipient's receipts are folded in order, one log entry per applied
 * change, and the health score is folded in log order, clamped at every step.
 */
class ReceiptBatcher {
  private queue: Waiting[] = [];
  private running = false;

  apply(input: ReceiptInput): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.kick();
    });
  }

  private kick() {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    const batch = this.queue.splice(0, MAX_BATCH);
    void this.run(batch).finally(() => {
      this.running = false;
      this.kick();
    });
  }

  private async run(batch: Waiting[]) {
    try {
      const outcomes = await inTransaction((tx, after) => applyBatch(tx, after, batch.map((w) => w.input)));
      batch.forEach((w, i) => w.resolve(outcomes[i] as string));
    } catch (err) {
      if (batch.length === 1) {
        batch[0]?.reject(err);
        return;
      }
      // One bad receipt (or a deadlock with another process) must not fail the others: retry each alone.
      logger.warn({ err, size: batch.length }, 'receipt batch failed; applying its receipts one by one');
      for (const w of batch) {
        try {
          const [outcome] = await inTransaction((tx, after) => applyBatch(tx, after, [w.input]));
          w.resolve(outcome as string);
        } catch (e) {
          w.reject(e);
        }
      }
    }
  }
}

let batcher: ReceiptBatcher | null = null;

/** Applies one delivery receipt (through this process's batcher); resolves once it is committed. */
export function applyDeliveryReceipt(input: ReceiptInput): Promise<string> {
  batcher ??= new ReceiptBatcher();
  return batcher.apply(input);
}

/** Lock order everywhere: key ids (advisory, by hash), recipients (by id), instances (by id), campaigns (by id). */
async function applyBatch(tx: Tx, after: AfterCommit, inputs: ReceiptInput[]): Promise<string[]> {
  const keys = [...new Set(inputs.map((i) => i.keyId))];
  // The subquery fixes the order in which the advisory locks are taken (the same in every process).
  await tx.$queryRaw`
    SELECT count(pg_advisory_xact_lock(h)) FROM (
      SELECT DISTINCT hashtextextended(k, 42) AS h FROM unnest(${keys}::text[]) AS k ORDER BY 1 OFFSET 0) s`;
  const rows = await tx.$queryRaw<Parameters<typeof toReceiptRecipient>[0][]>`
    SELECT ${RECEIPT_COLUMNS}, provider_message_id FROM recipient
    WHERE provider_message_id = ANY(${keys}::text[]) ORDER BY id FOR UPDATE`;
  const byKey = new Map<string, ReceiptRecipient>();
  for (const row of rows) byKey.set((row as unknown as { provider_message_id: string }).provider_message_id, toReceiptRecipient(row));

  const outcomes: string[] = new Array(inputs.length);
  const toPark: ReceiptInput[] = [];
  const unmatched: number[] = [];
  inputs.forEach((input, i) => {
    const r = byKey.get(input.keyId);
    if (!r || r.tenantId !== input.tenantId) unmatched.push(i);
  });
  if (unmatched.length > 0) {
    const unmatchedKeys = [...new Set(unmatched.map((i) => (inputs[i] as ReceiptInput).keyId))];
    const followUps = await tx.$queryRaw<Array<{ provider_message_id: string; tenant_id: string }>>`
      SELECT provider_message_id, tenant_id FROM follow_up WHERE provider_message_id = ANY(${unmatchedKeys}::text[])`;
    const followUpKeys = new Set(followUps.map((f) => `${f.tenant_id}:${f.provider_message_id}`));
    for (const i of unmatched) {
      const input = inputs[i] as ReceiptInput;
      if (followUpKeys.has(`${input.tenantId}:${input.keyId}`)) outcomes[i] = 'ignored: receipt of a follow-up';
      else if (input.park === false) outcomes[i] = 'ignored: not one of our messages';
      else {
        outcomes[i] = 'parked';
        toPark.push(input);
      }
    }
  }
  if (toPark.length > 0) {
    // Applied when the send's result stores the key id (dispatch holds the same advisory lock).
    await tx.$executeRaw`
      INSERT INTO pending_receipt (tenant_id, instance_id, key_id, status, received_at)
      SELECT * FROM unnest(${toPark.map((p) => p.tenantId)}::uuid[], ${toPark.map((p) => p.instanceId)}::uuid[],
        ${toPark.map((p) => p.keyId)}::text[], ${toPark.map((p) => p.status)}::text[], ${toPark.map((p) => p.at)}::timestamptz[])
      ON CONFLICT (instance_id, key_id, status) DO NOTHING`;
  }

  // Each recipient's receipts folded in batch order; the changes, their logs and deltas collected.
  const state = new Map<string, ReceiptRecipient>();
  const combined = new Map<string, ReceiptChange>();
  const logs: LogEntry[] = [];
  const healthSteps = new Map<string, number[]>();
  const instanceDeltas = new Map<string, ReturnType<typeof emptyDeltas>['instance']>();
  const instanceTenant = new Map<string, string>();
  const campaignDeltas = new Map<string, CounterDeltas>();
  const failures = new Map<string, string>();
  inputs.forEach((input, i) => {
    if (outcomes[i] !== undefined) return;
    const base = byKey.get(input.keyId) as ReceiptRecipient;
    const current = state.get(base.id) ?? base;
    const change = applyReceipt(current, input.status, input.at);
    if (!change) {
      outcomes[i] = `unchanged by ${input.status}`;
      return;
    }
    outcomes[i] = `applied ${input.status}`;
    state.set(base.id, afterChange(current, change));
    const before = combined.get(base.id);
    combined.set(base.id, { status: change.status, set: { ...before?.set, ...change.set }, events: [...(before?.events ?? []), ...change.events] });
    if (change.events.includes('failed')) {
      failures.set(base.id, `WhatsApp reported ${input.word ?? input.status}${input.detail ? `: ${input.detail}` : ''}`);
    }
    const entries = changeLogs(current, change, input.status, input.keyId, 'webhook', input.word, input.detail);
    logs.push(...entries);
    const deltas = emptyDeltas();
    addChangeDeltas(deltas, change);
    const c = campaignDeltas.get(base.campaignId) ?? {};
    for (const [k, v] of Object.entries(deltas.campaign) as Array<[keyof CounterDeltas, number]>) c[k] = (c[k] ?? 0) + v;
    campaignDeltas.set(base.campaignId, c);
    if (base.instanceId) {
      const d = instanceDeltas.get(base.instanceId) ?? emptyDeltas().instance;
      d.sent += deltas.instance.sent;
      d.delivered += deltas.instance.delivered;
      d.read += deltas.instance.read;
      d.failed += deltas.instance.failed;
      d.errors ||= deltas.instance.errors;
      instanceDeltas.set(base.instanceId, d);
      instanceTenant.set(base.instanceId, base.tenantId);
      // One score step per log entry, in the order the entries are written.
      const steps = healthSteps.get(base.instanceId) ?? [];
      for (const e of change.events) {
        const step = healthDelta([e]);
        if (step) steps.push(step);
      }
      healthSteps.set(base.instanceId, steps);
    }
  });
  if (combined.size === 0) return outcomes;

  const changed = [...combined.entries()];
  await tx.$executeRaw`
    UPDATE recipient r SET
      status = v.status::"RecipientStatus",
      sent_at = COALESCE(r.sent_at, v.sent_at),
      delivered_at = COALESCE(r.delivered_at, v.delivered_at),
      read_at = COALESCE(r.read_at, v.read_at),
      played_at = COALESCE(r.played_at, v.played_at),
      failed_at = CASE WHEN v.status = 'FAILED' THEN COALESCE(v.failed_at, r.failed_at) END,
      error_code = CASE WHEN v.failed_at IS NOT NULL THEN 'PROVIDER_ERROR' ELSE r.error_code END,
      error = CASE WHEN v.failed_at IS NOT NULL THEN v.error ELSE r.error END,
      updated_at = now()
    FROM unnest(
      ${changed.map(([id]) => id)}::uuid[], ${changed.map(([, c]) => c.status)}::text[],
      ${changed.map(([, c]) => c.set.sentAt ?? null)}::timestamptz[], ${changed.map(([, c]) => c.set.deliveredAt ?? null)}::timestamptz[],
      ${changed.map(([, c]) => c.set.readAt ?? null)}::timestamptz[], ${changed.map(([, c]) => c.set.playedAt ?? null)}::timestamptz[],
      ${changed.map(([, c]) => c.set.failedAt ?? null)}::timestamptz[],
      ${changed.map(([id]) => failures.get(id) ?? 'WhatsApp reported ERROR')}::text[]
    ) AS v(id, status, sent_at, delivered_at, read_at, played_at, failed_at, error)
    WHERE r.id = v.id`;

  const instanceIds = [...instanceDeltas.keys()].sort();
  const scores = instanceIds.length
    ? await tx.$queryRaw<Array<{ id: string; health_score: number }>>`
        SELECT id, health_score FROM whatsapp_instance WHERE id = ANY(${instanceIds}::uuid[]) ORDER BY id FOR UPDATE`
    : [];
  for (const { id, health_score } of scores) {
    const d = instanceDeltas.get(id) as ReturnType<typeof emptyDeltas>['instance'];
    const folded = (healthSteps.get(id) ?? []).reduce((s, step) => clampHealth(s + step), health_score);
    // The net change of the step-by-step fold: the database's clamp then lands exactly on it.
    d.health = folded - health_score;
    await applyInstanceDeltas(tx, id, d);
    if (d.health || d.failed) after.publish('instance:health', { tenantId: instanceTenant.get(id) as string, instanceId: id });
  }
  // Written after the instances are locked: an instance's log order is the order its score moved.
  await appendLogs(tx, after, logs);
  for (const campaignId of [...campaignDeltas.keys()].sort()) await bumpCampaign(tx, after, campaignId, campaignDeltas.get(campaignId) as CounterDeltas);
  return outcomes;
}
