/**
 * Unknown send outcomes, resolved against Evolution instead of abandoned. A send whose answer was lost
 * (timeout, broken connection, a worker that died) is UNKNOWN with `reconcile_at` set; every
 * maintenance:reconcile pass looks the due ones up in Evolution's message store
 * (`POST /chat/findMessages`) and records what src/domain/reconcile.ts decides:
 * - found: SENT, with its key id, the receipts that were parked for it and the statuses the store holds;
 * - proven missing (twice, with the store shown to work, after the grace time): queued again;
 * - still undecided after RECONCILE_MAX_MS: stays UNKNOWN with the evidence, for `resendUnknown`.
 * Every decision is logged (OUTCOME_RECONCILED) with the evidence it rests on.
 */
import { appendLog } from '../campaigns/logs.js';
import { config } from '../../infra/config/index.js';
import { sqlRows } from '../../infra/db/sql.js';
import { inTransaction } from '../../infra/db/transaction.js';
import { type Candidate, type ControlResult, decide, type LookupResult, nextLookupDelayMs, pickMatch, storedText } from '../../domain/reconcile.js';
import { parseProviderStatus } from '../../domain/receipts.js';
import { phoneCandidates } from '../../domain/replies.js';
import type { StoredMessageRecord } from '../../infra/evolution/wire.js';
import { Prisma } from '../../generated/prisma/client.js';
import { GATE_MAX_WAIT_MS } from './pace.js';
import { MAX_TYPING_DELAY_MS } from '../../domain/campaign-settings.js';
import { clock } from '../../infra/lib/clock.js';
import type { Logger } from '../../infra/lib/logger.js';
import { noInstanceDeltas, applyInstanceDeltas } from '../recipients/effects.js';
import { applyDeliveryReceipt } from '../recipients/receipt-batch.js';
import { lockProviderMessage } from '../recipients/receipts.js';
import {
  awaitNextLookup,
  type DueRow,
  type Evidence,
  markUndecidable,
  postponeLookup,
  requeueNotSent,
  settleFoundSend,
  takeDueUnknowns,
} from '../recipients/reconcile.js';
import { sendInstance, type SendInstance } from './context.js';

/** The most unknown outcomes one pass looks up. */
const PASS_MAX = 200;
/** Rows a pass took are not taken by another pass for this long. */
const LEASE_MS = 120_000;
/** Lookups kept in a recipient's evidence (the first ones and the last ones). */
const EVIDENCE_LOOKUPS = 12;
/** The look that confirms a first conclusive miss comes this soon after it. */
const CONFIRM_LOOKUP_MS = 5000;
/** A send's message is searched from a little before its claim (Evolution's clock may differ). */
const CLOCK_SKEW_S = 30;

export interface ReconcileDeps {
  log: Logger;
  requestPump(tenantId: string, campaignId: string, delayMs?: number): Promise<void>;
  /** Asks for a follow-up pass (one proven not sent goes again). */
  requestFollowUps?(delayMs?: number): Promise<void>;
}

/** One pass: every due unknown outcome (up to PASS_MAX each of sends and follow-ups) looked up and decided, or given a later look. */
export async function reconcileDue(deps: ReconcileDeps): Promise<string> {
  const sends = await reconcileSends(deps);
  const followUps = await reconcileFollowUps(deps);
  return `sends: ${sends}; follow-ups: ${followUps}`;
}

async function reconcileSends(deps: ReconcileDeps): Promise<string> {
  // Taken with a lease, so two passes (two workers) never look up the same rows at once.
  const rows = await takeDueUnknowns(PASS_MAX, LEASE_MS);
  if (rows.length === 0) return 'nothing due';
  const byInstance = new Map<string, DueRow[]>();
  for (const r of rows) {
    const k = `${r.tenant_id}:${r.instance_id ?? ''}`;
    byInstance.set(k, [...(byInstance.get(k) ?? []), r]);
  }
  const tally: Record<string, number> = {};
  const decided = new Map<string, string>();
  await Promise.all(
    [...byInstance.values()].map(async (group) => {
      const first = group[0] as DueRow;
      const instance = first.instance_id ? await sendInstance(first.tenant_id, first.instance_id).catch(() => null) : null;
      let control: ControlResult | null = null;
      for (const row of group) {
        try {
          const lookup: LookupResult = instance ? await lookUp(instance, row) : { kind: 'ERROR', message: 'the instance is gone' };
          if (lookup.kind === 'NOT_FOUND' && instance && control === null) control = await controlLookup(instance, row);
          const decision = await record(deps, row, lookup, lookup.kind === 'NOT_FOUND' ? control : null);
          tally[decision] = (tally[decision] ?? 0) + 1;
          // A decision may complete the campaign (its pump completes it) or give it something to send.
          if (decision !== 'WAIT') decided.set(row.campaign_id, row.tenant_id);
        } catch (err) {
          deps.log.warn({ err: (err as Error).message, recipientId: row.id }, 'could not reconcile an unknown outcome; trying later');
          await postponeLookup(row.id, nextLookupDelayMs(row.reconcile_attempts + 1)).catch(() => undefined);
          tally.error = (tally.error ?? 0) + 1;
        }
      }
    }),
  );
  for (const [campaignId, tenantId] of decided) await deps.requestPump(tenantId, campaignId).catch(() => undefined);
  return Object.entries(tally)
    .map(([k, n]) => `${k.toLowerCase()} ${n}`)
    .join(', ');
}

function toCandidate(m: StoredMessageRecord): Candidate {
  return {
    keyId: m.key.id,
    fromMe: m.key.fromMe === true,
    timestamp: Number(m.messageTimestamp) || 0,
    text: storedText(m.message),
    statuses: (m.MessageUpdate ?? []).map((u) => u.status).filter((s): s is string => typeof s === 'string'),
  };
}

/** Key ids among `keys` that already belong to another send (a recipient or a follow-up). */
async function takenKeys(keys: string[], recipientId: string): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const rows = await sqlRows<{ k: string }>(Prisma.sql`
    SELECT provider_message_id AS k FROM recipient WHERE provider_message_id = ANY(${keys}::text[]) AND id <> ${recipientId}::uuid
    UNION SELECT provider_message_id FROM follow_up WHERE provider_message_id = ANY(${keys}::text[])`);
  return new Set(rows.map((r) => r.k));
}

/** Looks the send's message up: by the key id chosen before the call, or in the recipient's chat around the send. */
type LookupSubject = Pick<DueRow, 'id' | 'phone' | 'sending_at' | 'updated_at' | 'rendered_text' | 'request_key_id'>;

async function lookUp(instance: SendInstance, row: LookupSubject): Promise<LookupResult> {
  const sendingS = Math.floor((row.sending_at ?? row.updated_at).getTime() / 1000);
  const nowS = Math.floor(clock.ms() / 1000);
  if (row.request_key_id) {
    // A receipt that names the key id we chose proves the send, store or no store.
    const [receipt] = await sqlRows<{ n: number }>(Prisma.sql`
      SELECT count(*)::int AS n FROM pending_receipt WHERE key_id = ${row.request_key_id} AND instance_id = ${instance.id}::uuid`);
    if ((receipt?.n ?? 0) > 0) return { kind: 'FOUND', keyId: row.request_key_id, statuses: [], by: 'receipt' };
    const r = await instance.client.findMessages(instance.name, { key: { id: row.request_key_id } });
    if (!r.ok) return { kind: 'ERROR', message: `findMessages: ${r.httpStatus ?? ''} ${r.message}`.trim() };
    const byId = pickMatch(r.records.map(toCandidate), { requestKeyId: row.request_key_id, text: null, fromS: 0, toS: nowS, taken: new Set() });
    // Not under our key id: the chat is searched too, in case this Evolution ignored it (older than it said).
    if (byId.kind === 'FOUND') return byId;
  }
  const candidates: Candidate[] = [];
  const digits = phoneCandidates(row.phone.replace(/\D/g, '')).map((p) => p.replace(/\D/g, ''));
  for (const d of new Set(digits)) {
    const r = await instance.client.findMessages(
      instance.name,
      {
        key: { remoteJid: `${d}@s.whatsapp.net`, fromMe: true },
        messageTimestamp: { gte: new Date((sendingS - CLOCK_SKEW_S) * 1000).toISOString(), lte: new Date((nowS + CLOCK_SKEW_S) * 1000).toISOString() },
      },
      4,
    );
    if (!r.ok) return { kind: 'ERROR', message: `findMessages: ${r.httpStatus ?? ''} ${r.message}`.trim() };
    candidates.push(...r.records.map(toCandidate));
  }
  const taken = await takenKeys([...new Set(candidates.map((c) => c.keyId))], row.id);
  return pickMatch(candidates, { requestKeyId: null, text: row.rendered_text, fromS: sendingS - CLOCK_SKEW_S, toS: nowS + CLOCK_SKEW_S, taken });
}

/**
 * Whether this instance's Evolution keeps messages: a message of ours known to have been sent from it
 * (the latest of the same campaign, else any) must be found by the same lookup.
 */
async function controlLookup(instance: SendInstance, row: Pick<DueRow, 'campaign_id'>): Promise<ControlResult> {
  const [ref] = await sqlRows<{ key: string }>(Prisma.sql`
    SELECT provider_message_id AS key FROM (
      (SELECT provider_message_id, 1 AS pref FROM recipient
       WHERE campaign_id = ${row.campaign_id}::uuid AND status IN ('SENT', 'DELIVERED', 'READ') AND instance_id = ${instance.id}::uuid
         AND provider_message_id IS NOT NULL LIMIT 1)
      UNION ALL
      (SELECT provider_message_id, 2 FROM recipient WHERE instance_id = ${instance.id}::uuid AND provider_message_id IS NOT NULL LIMIT 1)
    ) refs ORDER BY pref LIMIT 1`);
  if (!ref) return 'NO_REFERENCE';
  const r = await instance.client.findMessages(instance.name, { key: { id: ref.key } });
  if (!r.ok) return 'ERROR';
  return r.records.some((m) => m.key.id === ref.key) ? 'FOUND' : 'MISSING';
}

function withLookup(evidence: Evidence | null, entry: Record<string, unknown>): Evidence {
  const e: Evidence = { ...(evidence ?? {}) };
  const lookups = [...(e.lookups ?? []), entry];
  // The first ones and the last ones: the whole story stays readable and bounded.
  e.lookups = lookups.length > EVIDENCE_LOOKUPS ? [...lookups.slice(0, 2), ...lookups.slice(-(EVIDENCE_LOOKUPS - 2))] : lookups;
  return e;
}

/** What a lookup decides for an unknown outcome (a send's or a follow-up's), the evidence with it, and when to look again. */
function judge(
  row: { sending_at: Date | null; updated_at: Date; reconcile_attempts: number; evidence: Evidence | null },
  lookup: LookupResult,
  control: ControlResult | null,
) {
  const now = clock.ms();
  // A call starts after the pace gate and its typing presence, up to GATE_MAX_WAIT_MS + MAX_TYPING_DELAY_MS after
  // its claim: a request Evolution still held may be handled until the grace time after the call was given
  // up where that is known, else (a crash) with that allowance. The deadline (maxMs) counts from the claim.
  const claimedAt = (row.sending_at ?? row.updated_at).getTime();
  const abandoned = row.evidence?.abandonedAt ? Date.parse(row.evidence.abandonedAt) : Number.NaN;
  const callStart = Number.isFinite(abandoned) ? Math.max(claimedAt, abandoned - config.evolutionTimeoutMs) : claimedAt + GATE_MAX_WAIT_MS + MAX_TYPING_DELAY_MS;
  const sinceSendMs = now - claimedAt;
  const settleMs = config.evolutionTimeoutMs + config.reconcileGraceMs + (callStart - claimedAt);
  const earlierMisses = (row.evidence?.lookups ?? []).filter((l) => l.result === 'NOT_FOUND' && l.control === 'FOUND').length;
  const decision = decide({ lookup, control, sinceSendMs, settleMs, maxMs: config.reconcileMaxMs, earlierMisses });
  const entry: Record<string, unknown> = { at: new Date(now).toISOString(), result: lookup.kind };
  if (lookup.kind === 'FOUND') {
    entry.keyId = lookup.keyId;
    if (lookup.by) entry.by = lookup.by;
  }
  if (lookup.kind === 'AMBIGUOUS') entry.candidates = lookup.candidates;
  if (lookup.kind === 'ERROR') entry.error = lookup.message;
  if (control) entry.control = control;
  const attempts = row.reconcile_attempts + 1;
  // A miss in a store shown to work is looked at again soon: at once after the grace time, to confirm it.
  const settleLeftMs = settleMs - sinceSendMs;
  const missing = lookup.kind === 'NOT_FOUND' && control === 'FOUND';
  const nextLookupMs = missing ? (settleLeftMs <= 0 ? CONFIRM_LOOKUP_MS : Math.min(nextLookupDelayMs(attempts), Math.max(1000, settleLeftMs))) : nextLookupDelayMs(attempts);
  return { decision, evidence: withLookup(row.evidence, entry), attempts, nextLookupMs };
}

async function record(deps: ReconcileDeps, row: DueRow, lookup: LookupResult, control: ControlResult | null): Promise<string> {
  const { decision, evidence, attempts, nextLookupMs } = judge(row, lookup, control);
  if (decision === 'WAIT') {
    await awaitNextLookup(row.id, attempts, evidence, nextLookupMs);
    return 'WAIT';
  }
  if (decision === 'SENT' && lookup.kind === 'FOUND') return settleSent(deps, row, lookup, { ...evidence, decision }, attempts);
  if (decision === 'NOT_SENT') return requeueNotSent(row, { ...evidence, decision }, attempts);
  return markUndecidable(row, { ...evidence, decision: 'UNDECIDABLE' }, attempts, undecidableWhy);
}

async function settleSent(deps: ReconcileDeps, row: DueRow, found: Extract<LookupResult, { kind: 'FOUND' }>, evidence: Evidence, attempts: number): Promise<string> {
  const settled = await settleFoundSend(row, found.keyId, evidence, attempts);
  if (settled === false) return 'GONE';
  // The statuses Evolution stored for it are receipts too (those delivered by webhook change nothing again).
  if (settled) {
    for (const s of found.statuses) {
      const status = parseProviderStatus(s);
      if (status && status !== 'PENDING') {
        await applyDeliveryReceipt({ tenantId: row.tenant_id, instanceId: settled, keyId: found.keyId, status, at: new Date() }).catch((err) =>
          deps.log.warn({ err: (err as Error).message, recipientId: row.id }, 'a stored status of a reconciled send could not be applied'),
        );
      }
    }
  }
  return 'SENT';
}

export function undecidableWhy(e: Evidence): string {
  const last = e.lookups?.[e.lookups.length - 1] ?? {};
  if (last.result === 'ERROR') return `the last lookup failed: ${String(last.error ?? '')}`;
  if (last.result === 'AMBIGUOUS') return `${String(last.candidates)} messages to that number could be it`;
  if (last.control === 'MISSING') return 'its message store does not keep our messages (DATABASE_SAVE_DATA_NEW_MESSAGE off?)';
  if (last.control === 'NO_REFERENCE') return 'no message of this instance is known to check its store with';
  return 'no conclusive lookup';
}

interface FollowUpDueRow {
  id: string;
  tenant_id: string;
  campaign_id: string;
  recipient_id: string;
  contact_id: string;
  instance_id: string | null;
  phone: string;
  sending_at: Date | null;
  updated_at: Date;
  rendered_text: string | null;
  request_key_id: null;
  reconcile_attempts: number;
  evidence: Evidence | null;
}

/**
 * Follow-ups whose outcome is unknown, resolved by the same lookups and rules as campaign sends:
 * found, SENT; proven missing, PENDING again (the next follow-up pass sends it); undecided at the
 * deadline, UNKNOWN with the evidence.
 */
async function reconcileFollowUps(deps: ReconcileDeps): Promise<string> {
  const rows = await sqlRows<FollowUpDueRow>(Prisma.sql`
    UPDATE follow_up f SET reconcile_at = now() + make_interval(secs => ${LEASE_MS / 1000})
    FROM (SELECT id FROM follow_up WHERE reconcile_at <= now() AND status = 'UNKNOWN' ORDER BY reconcile_at LIMIT ${PASS_MAX} FOR UPDATE SKIP LOCKED) d, contact ct
    WHERE f.id = d.id AND ct.id = f.contact_id
    RETURNING f.id, f.tenant_id, f.campaign_id, f.recipient_id, f.contact_id, f.instance_id, ct.phone, f.claimed_at AS sending_at,
              f.created_at AS updated_at, f.rendered_text, NULL::text AS request_key_id, f.reconcile_attempts, f.evidence`);
  if (rows.length === 0) return 'nothing due';
  const tally: Record<string, number> = {};
  let requeued = false;
  for (const row of rows) {
    try {
      const instance = row.instance_id ? await sendInstance(row.tenant_id, row.instance_id).catch(() => null) : null;
      const lookup: LookupResult = instance ? await lookUp(instance, row) : { kind: 'ERROR', message: 'the instance is gone' };
      const control = lookup.kind === 'NOT_FOUND' && instance ? await controlLookup(instance, row) : null;
      const decision = await recordFollowUp(row, lookup, control);
      tally[decision] = (tally[decision] ?? 0) + 1;
      if (decision === 'NOT_SENT') requeued = true;
    } catch (err) {
      deps.log.warn({ err: (err as Error).message, followUpId: row.id }, 'could not reconcile an unknown follow-up; trying later');
      await sqlRows(Prisma.sql`
        UPDATE follow_up SET reconcile_at = now() + make_interval(secs => ${nextLookupDelayMs(row.reconcile_attempts + 1) / 1000})
        WHERE id = ${row.id}::uuid AND status = 'UNKNOWN' AND reconcile_at IS NOT NULL`).catch(() => undefined);
      tally.error = (tally.error ?? 0) + 1;
    }
  }
  if (requeued && deps.requestFollowUps) await deps.requestFollowUps().catch(() => undefined);
  return Object.entries(tally)
    .map(([k, n]) => `${k.toLowerCase()} ${n}`)
    .join(', ');
}

async function recordFollowUp(row: FollowUpDueRow, lookup: LookupResult, control: ControlResult | null): Promise<string> {
  const judged = judge(row, lookup, control);
  const { decision, attempts } = judged;
  const evidence = { ...judged.evidence, ...(decision === 'WAIT' ? {} : { decision }) };
  if (decision === 'WAIT') {
    const delayMs = judged.nextLookupMs;
    await sqlRows(Prisma.sql`
      UPDATE follow_up SET reconcile_attempts = ${attempts}, evidence = ${JSON.stringify(evidence)}::jsonb, reconcile_at = now() + make_interval(secs => ${delayMs / 1000})
      WHERE id = ${row.id}::uuid AND status = 'UNKNOWN' AND reconcile_at IS NOT NULL`);
    return 'WAIT';
  }
  const done = await inTransaction(async (tx, after) => {
    let n: number;
    if (decision === 'SENT' && lookup.kind === 'FOUND') {
      await lockProviderMessage(tx, lookup.keyId);
      n = await tx.$executeRaw`
        UPDATE follow_up SET status = 'SENT', provider_message_id = ${lookup.keyId}, sent_at = COALESCE(claimed_at, now()), error = NULL,
          reconcile_at = NULL, reconcile_attempts = ${attempts}, evidence = ${JSON.stringify(evidence)}::jsonb
        WHERE id = ${row.id}::uuid AND status = 'UNKNOWN' AND reconcile_at IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM follow_up o WHERE o.provider_message_id = ${lookup.keyId})
          AND NOT EXISTS (SELECT 1 FROM recipient r WHERE r.provider_message_id = ${lookup.keyId})`;
      if (n) await applyInstanceDeltas(tx, row.instance_id, { ...noInstanceDeltas(), sent: 1 });
    } else if (decision === 'NOT_SENT') {
      n = await tx.$executeRaw`
        UPDATE follow_up SET status = 'PENDING', claim_token = NULL, claimed_at = NULL, error = NULL,
          reconcile_at = NULL, reconcile_attempts = ${attempts}, evidence = ${JSON.stringify(evidence)}::jsonb
        WHERE id = ${row.id}::uuid AND status = 'UNKNOWN' AND reconcile_at IS NOT NULL`;
    } else {
      n = await tx.$executeRaw`
        UPDATE follow_up SET reconcile_at = NULL, reconcile_attempts = ${attempts}, evidence = ${JSON.stringify(evidence)}::jsonb
        WHERE id = ${row.id}::uuid AND status = 'UNKNOWN' AND reconcile_at IS NOT NULL`;
    }
    if (!n) return false;
    const outcome = decision === 'SENT' ? 'it was sent' : decision === 'NOT_SENT' ? 'it was not sent: it goes again' : `it stays unknown (${undecidableWhy(evidence)})`;
    await appendLog(tx, after, {
      tenantId: row.tenant_id,
      campaignId: row.campaign_id,
      instanceId: row.instance_id,
      contactId: row.contact_id,
      recipientId: row.recipient_id,
      type: 'OUTCOME_RECONCILED',
      severity: decision === 'UNDECIDABLE' ? 'ERROR' : 'WARNING',
      message: `a follow-up's outcome was unknown; Evolution's message store shows ${outcome}`,
      details: { followUpId: row.id, decision, evidence } as unknown as Prisma.InputJsonValue,
      actor: 'worker',
    });
    return true;
  });
  return done ? decision : 'GONE';
}
