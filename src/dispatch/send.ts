import type { Redis } from 'ioredis';
import { completeIfDone, autoPauseCampaign } from '../campaigns/lifecycle.js';
import { appendLog } from '../campaigns/logs.js';
import { bumpCampaign } from '../campaigns/progress.js';
import { prisma, type Tx } from '../db/client.js';
import { whileDatabaseRecovers } from '../db/outage.js';
import { sqlExecute, sqlRows } from '../db/sql.js';
import { type AfterCommit, inTransaction } from '../db/transaction.js';
import { checkInstanceHealth } from '../health/service.js';
import { effectiveLimits } from '../domain/instances.js';
import { renderTemplate } from '../domain/template.js';
import { withTrackedLinks } from '../links/track.js';
import type { SendOutcome } from '../evolution/client.js';
import type { EvolutionMediaType, SendMediaBody, SendTextBody } from '../evolution/wire.js';
import { Prisma } from '../generated/prisma/client.js';
import { clock } from '../lib/clock.js';
import { type GroupResult, KeyedBatcher } from '../lib/keyed-batcher.js';
import type { Logger } from '../lib/logger.js';
import { redisKey } from '../redis.js';
import { applyInstanceDeltas, applyParkedReceipts, emptyDeltas, lockProviderMessage } from '../receipts/apply.js';
import { inOpenZones, openZones, type SendCampaign, type SendInstance, sendCampaign, sendInstance } from './context.js';
import { markUnreachable } from './outage.js';
import type { InstanceLimiter } from './limiter.js';
import type { SendPermits } from './permits.js';
import { giveBackPhones, type PhoneHold, takePhones } from './phone-locks.js';
import { type AcceptedSend, recordAcceptedSends } from './record-sent.js';

export interface SendJob {
  id: string;
  attemptsStarted: number;
  data: { tenantId: string; campaignId: string; instanceId: string; slots: string[]; slotAt: number; day: string };
}

export interface DispatchDeps {
  redis: Redis;
  limiter: InstanceLimiter;
  /** This process's Evolution calls in flight (`DISPATCH_CONCURRENCY`), sends and follow-ups alike. */
  permits: SendPermits;
  log: Logger;
  /** Asks for a pump of the campaign soon (deduplicated). */
  requestPump(tenantId: string, campaignId: string, delayMs?: number): Promise<void>;
  /** How many send jobs a campaign keeps ahead of the workers. */
  lookahead: number;
  /** How many send jobs all campaigns of one tenant together keep ahead of the workers (fair share). */
  tenantLookahead: number;
  phoneLockMs: number;
}

interface ClaimedRow {
  id: string;
  seq: number;
  /** The key id to send under (Evolution 2.4.0+), chosen by the claim; null otherwise. */
  request_key_id: string | null;
  contact_id: string;
  phone: string;
  attempts: number;
  message_id: string;
  name: string | null;
  custom_fields: Record<string, unknown>;
  timezone: string | null;
  referred_by: string | null;
  text: string;
  media_type: 'IMAGE' | 'VIDEO' | 'AUDIO' | 'DOCUMENT' | null;
  media_url: string | null;
  media_mimetype: string | null;
  media_file_name: string | null;
}

/** What every log entry of one send shares. */
interface LogBase {
  tenantId: string;
  campaignId: string;
  instanceId: string;
  contactId: string;
  recipientId: string;
  durationMs: number;
  request: ReturnType<typeof requestSummary>;
  httpStatus: number | null;
  actor: string;
}

/** Send jobs of a campaign scheduled and not yet run (slot ids scored by slot time). */
export function outstandingKey(campaignId: string) {
  return redisKey('scheduled', campaignId);
}

/** The same across all campaigns of a tenant: bounded so that no tenant fills the queue ahead of others. */
export function tenantOutstandingKey(tenantId: string) {
  return redisKey('scheduled-tenant', tenantId);
}

interface ClaimGroup {
  campaignId: string;
  instanceId: string;
  token: string;
  limit: number;
  open: string[] | null;
  tenantZone: string;
  /** Choose each recipient's key id in the claim (the instance's Evolution sends under it). */
  chooseKeyIds: boolean;
}

/** The most recipients one claim statement takes (groups are never split). */
const CLAIM_BATCH_MAX = 500;

/**
 * Claims of one campaign and instance run one statement at a time, per process: the send jobs that
 * ask meanwhile are served together by the next statement, each its own recipients under its own
 * token. Concurrent claims would otherwise scan and skip each other's locked rows in PostgreSQL.
 */
const claims = new KeyedBatcher<ClaimGroup, ClaimedRow[]>((_key, groups) => claimGroups(groups), CLAIM_BATCH_MAX);

/**
 * Claims the next `limit` recipients of the campaign for this instance, in open zones `open` (null:
 * every zone), for the send job `token`: only QUEUED ones, only while the campaign is RUNNING and the
 * instance may send. Resolves with the claimed rows in sequence order (fewer than `limit` when the
 * queue has no more now).
 */
export function claimNext(
  campaignId: string,
  instanceId: string,
  token: string,
  open: string[] | null,
  tenantZone: string,
  limit: number,
  chooseKeyIds = false,
): Promise<ClaimedRow[]> {
  if (limit <= 0 || (open !== null && open.length === 0)) return Promise.resolve([]);
  const key = `${campaignId}:${instanceId}:${tenantZone}:${open === null ? '*' : [...open].sort().join(',')}:${chooseKeyIds ? 'k' : '-'}`;
  return claims.add(key, { campaignId, instanceId, token, limit, open, tenantZone, chooseKeyIds }, limit);
}

/**
 * One claim for all the groups (same campaign, instance and zones): the first group gets the lowest
 * sequence numbers. FOR KEY SHARE on the campaign row makes a concurrent pause or cancel (FOR UPDATE)
 * wait for this claim, or this claim see its result.
 */
async function claimGroups(groups: readonly ClaimGroup[]): Promise<Array<GroupResult<ClaimedRow[]>>> {
  const first = groups[0];
  if (!first) return [];
  const { campaignId, instanceId } = first;
  let upto = 0;
  const bounds = groups.map((g) => (upto += g.limit));
  try {
    const rows = await sqlRows<ClaimedRow & { group_no: number }>(Prisma.sql`
      WITH c AS (
        SELECT id FROM campaign WHERE id = ${campaignId}::uuid AND status = 'RUNNING' FOR KEY SHARE
      ), i AS (
        SELECT id FROM whatsapp_instance
        WHERE id = ${instanceId}::uuid AND NOT manually_paused AND auto_paused_at IS NULL
          AND connection_state NOT IN ('CLOSE', 'REFUSED') AND (unreachable_until IS NULL OR unreachable_until <= now())
      ), picked AS (
        SELECT r.id, r.seq FROM recipient r
        WHERE r.campaign_id = (SELECT id FROM c) AND EXISTS (SELECT 1 FROM i)
          AND r.status = 'QUEUED' AND (r.not_before IS NULL OR r.not_before <= ${clock.now()}) AND ${inOpenZones(first.open, first.tenantZone)}
        ORDER BY r.seq
        LIMIT ${upto}
        FOR UPDATE OF r SKIP LOCKED
      ), next AS (
        SELECT p.id, t.token, t.g FROM (SELECT id, row_number() OVER (ORDER BY seq) AS rn FROM picked) p
        CROSS JOIN LATERAL (
          SELECT token, g FROM unnest(${groups.map((g) => g.token)}::text[], ${bounds}::int[]) WITH ORDINALITY AS t(token, upto, g)
          WHERE t.upto >= p.rn ORDER BY t.upto LIMIT 1
        ) t
      )
      UPDATE recipient r
      SET status = 'SENDING', instance_id = ${instanceId}::uuid, sending_at = now(), attempts = r.attempts + 1,
          claim_token = next.token, updated_at = now(),
          -- Baileys' form of key id: any webhook or lookup that names it proves this send (src/dispatch/reconcile.ts).
          request_key_id = CASE WHEN ${first.chooseKeyIds} THEN '3EB0' || upper(substr(md5(gen_random_uuid()::text), 1, 18)) END
      FROM next, contact ct, campaign_message m
      WHERE r.id = next.id AND ct.id = r.contact_id AND m.id = r.message_id
      RETURNING r.id, r.seq, r.request_key_id, r.contact_id, r.phone, r.attempts, r.message_id, ct.name, ct.custom_fields, ct.timezone,
                ct.referred_by, m.text, m.media_type, m.media_url, m.media_mimetype, m.media_file_name, next.g::int AS group_no`);
    rows.sort((a, b) => a.seq - b.seq);
    const perGroup = groups.map((): ClaimedRow[] => []);
    for (const { group_no, ...row } of rows) perGroup[group_no - 1]?.push(row);
    return perGroup.map((value) => ({ ok: true, value }));
  } catch (error) {
    return groups.map(() => ({ ok: false, error }));
  }
}

/** Puts claimed recipients back in the queue, as if they had never been claimed (across a database blink too). */
async function unclaim(recipientIds: string[], notBefore: Date | null) {
  if (recipientIds.length === 0) return;
  await whileDatabaseRecovers(() => unclaimOnce(recipientIds, notBefore), { what: 'putting recipients back', maxMs: 60_000 });
}

async function unclaimOnce(recipientIds: string[], notBefore: Date | null) {
  await sqlExecute(Prisma.sql`
    UPDATE recipient SET status = 'QUEUED', sending_at = NULL, claim_token = NULL, instance_id = NULL, attempts = GREATEST(0, attempts - 1),
      request_key_id = NULL, not_before = ${notBefore}, updated_at = now()
    WHERE id = ANY(${recipientIds}::uuid[]) AND status = 'SENDING'`);
}

function phoneDigits(e164: string) {
  return e164.replace(/\D/g, '');
}

export type MediaColumns = Pick<ClaimedRow, 'phone' | 'media_type' | 'media_url' | 'media_mimetype' | 'media_file_name'>;

/** The Evolution request for a send; `messageId` (2.4.0+) makes Evolution send under that key id. */
export function requestFor(claimed: MediaColumns, text: string, messageId: string | null = null): { endpoint: 'sendText' | 'sendMedia'; body: SendTextBody | SendMediaBody } {
  const number = phoneDigits(claimed.phone);
  const id = messageId ? { messageId } : {};
  if (claimed.media_type && claimed.media_url) {
    return {
      endpoint: 'sendMedia',
      body: {
        number,
        mediatype: claimed.media_type.toLowerCase() as EvolutionMediaType,
        media: claimed.media_url,
        ...(claimed.media_mimetype ? { mimetype: claimed.media_mimetype } : {}),
        ...(claimed.media_file_name ? { fileName: claimed.media_file_name } : {}),
        ...(text && claimed.media_type !== 'AUDIO' ? { caption: text } : {}),
        ...id,
      },
    };
  }
  return { endpoint: 'sendText', body: { number, text, ...id } };
}

export function requestSummary(endpoint: string, body: SendTextBody | SendMediaBody) {
  return 'text' in body
    ? { endpoint, number: body.number, textLength: body.text.length }
    : { endpoint, number: body.number, mediatype: body.mediatype, media: body.media.slice(0, 200), fileName: body.fileName ?? null };
}

export function backoffMs(attempt: number) {
  return Math.min(300_000, 2000 * 2 ** Math.max(0, attempt - 1));
}

/** How a job's slots went, for its log line: `sent` once, or e.g. `sent 18, nothing-to-send 2`. */
class Tally {
  private readonly counts = new Map<string, number>();
  add(what: string, n = 1) {
    if (n > 0) this.counts.set(what, (this.counts.get(what) ?? 0) + n);
  }
  toString() {
    const entries = [...this.counts];
    if (entries.length === 0) return 'nothing-to-send';
    if (entries.length === 1 && entries[0]?.[1] === 1) return entries[0][0];
    return entries.map(([k, n]) => `${k} ${n}`).join(', ');
  }
}

/**
 * A send job: up to a handful of slots of one instance, due at the same instant (see batchSlots).
 * For each permit it gets (see SendPermits) it uses one slot: claims a recipient, renders, calls
 * Evolution, and records the outcomes of the calls it made together. Never sends a recipient
 * twice: the claim is conditional, and an outcome that may have reached WhatsApp is never retried.
 * A recipient is claimed only once a permit for its call is held, so its call starts at once: a
 * pause that waits for the campaign's SENDING recipients waits for calls in flight, never for
 * calls still queued.
 */
export async function processSend(deps: DispatchDeps, job: SendJob): Promise<string> {
  const { tenantId, campaignId, instanceId, slots, day } = job.data;
  const used = new Set<string>();
  const tally = new Tally();
  let rerun = false;
  try {
    if (job.attemptsStarted > 1) {
      // A previous run of this job died (worker crash): whatever it claimed may have been sent, and
      // its slots stay counted.
      rerun = true;
      const n = await markCrashedClaims(job.id);
      return n > 0 ? `crashed-claim-marked-unknown ${n}` : 'rerun-nothing-claimed';
    }
    const [campaign, instance] = await Promise.all([sendCampaign(tenantId, campaignId), sendInstance(tenantId, instanceId)]);
    if (!campaign || !instance) return 'gone';

    // Chunks are claimed one after the other, and each one's calls run while the next is claimed.
    const sending: Array<Promise<void>> = [];
    let failure: { error: unknown } | null = null;
    try {
      let next = 0;
      while (next < slots.length) {
        const held = new HeldPermits(deps.permits, await deps.permits.acquire(slots.length - next));
        const chunk = slots.slice(next, next + held.count);
        next += chunk.length;
        let started: ChunkStart | null = null;
        try {
          started = await startChunk(deps, job, campaign, instance, chunk, used, tally, held);
        } finally {
          if (!started?.sending) held.giveBackAll();
        }
        if (started.sending) {
          const calls = started.sending.finally(() => held.giveBackAll());
          // Awaited below, once the loop is done; until then a rejection (the database gone while
          // recording) must not count as unhandled, which would end the process.
          calls.catch(() => undefined);
          sending.push(calls);
        }
        if (!started.go) break;
      }
    } catch (error) {
      failure = { error };
    }
    // Even when claiming failed, the calls already started are waited for (and recorded).
    const settled = await Promise.allSettled(sending);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.error;
    if (failed) throw failed.reason;
    return tally.toString();
  } finally {
    const unused = slots.filter((s) => !used.has(s));
    if (!rerun && unused.length > 0) await deps.limiter.releaseMany(instanceId, unused, day).catch(() => undefined);
    const key = outstandingKey(campaignId);
    const [, left] = (await deps.redis.multi().zrem(key, ...slots).zcard(key).zrem(tenantOutstandingKey(tenantId), ...slots).exec()) ?? [];
    const outstanding = Number(left?.[1] ?? 0);
    if (outstanding <= deps.lookahead / 2) await deps.requestPump(tenantId, campaignId);
    if (used.size === 0) await completeIfDone(tenantId, campaignId);
  }
}

/** Permits a chunk holds: one per call, each given back when its call ends. */
class HeldPermits {
  constructor(
    private readonly permits: SendPermits,
    public count: number,
  ) {}
  giveBack(n: number) {
    const k = Math.min(n, this.count);
    this.count -= k;
    this.permits.release(k);
  }
  giveBackAll() {
    this.giveBack(this.count);
  }
}

interface ChunkStart {
  /** Whether the job may go on with its other slots. */
  go: boolean;
  /** The chunk's calls and the recording of their outcomes, when it claimed anyone. */
  sending: Promise<void> | null;
}

interface CallResult {
  claimed: ClaimedRow;
  text: string;
  request: ReturnType<typeof requestSummary>;
  outcome: SendOutcome;
}

/**
 * Claims recipients for the chunk's slots (one permit each) and starts their calls. The job goes on
 * with its other slots unless the window, the limits or the queue say there is nothing to send now.
 */
async function startChunk(
  deps: DispatchDeps,
  job: SendJob,
  campaign: SendCampaign,
  instance: SendInstance,
  chunk: string[],
  used: Set<string>,
  tally: Tally,
  held: HeldPermits,
): Promise<ChunkStart> {
  const { tenantId, campaignId, instanceId } = job.data;
  const now = clock.now();
  // Only recipients whose sending window is open now; a send scheduled just before it closed waits.
  const open = await openZones(campaign, now);
  if (open !== null && open.length === 0) {
    tally.add('window-closed', chunk.length);
    return { go: false, sending: null };
  }

  // A slot is used only if the sends actually made leave room now (a late job must not crowd the next
  // minute). The limiter is asked while the recipients are claimed, not before: the two round trips
  // were a tenth of each send's cycle when the limits allow bursts. Recipients claimed beyond what the
  // limiter confirmed are put back before anything is sent to them.
  const [asked, claimedFirst] = await Promise.allSettled([
    deps.limiter.confirmMany(instanceId, chunk, effectiveLimits(instance.limits, now), clock.ms()),
    claimNext(campaignId, instanceId, job.id, open, campaign.timezone, chunk.length, instance.sendsUnderMessageId),
  ]);
  const first = claimedFirst.status === 'fulfilled' ? claimedFirst.value : [];
  const confirmed = asked.status === 'fulfilled' ? asked.value : 0;
  // Nothing was called yet: recipients claimed beyond the confirmed slots (all of them when the
  // limiter could not be asked) go back to the queue as if never claimed.
  await unclaim(first.slice(confirmed).map((r) => r.id), null);
  if (asked.status === 'rejected') throw asked.reason;
  if (claimedFirst.status === 'rejected') throw claimedFirst.reason;
  tally.add('rate-wait', chunk.length - confirmed);
  if (confirmed === 0) return { go: false, sending: null };

  // A phone may not receive two messages at once (across campaigns): a locked one waits for later
  // and another recipient takes its slot (at most three rounds).
  const claimed: ClaimedRow[] = [];
  const holds: PhoneHold[] = [];
  let want = confirmed;
  let exhausted = false;
  let pending: ClaimedRow[] = first.slice(0, confirmed);
  try {
    for (let round = 0; round < 3 && want > 0 && !exhausted; round++) {
      const rows = round === 0 ? pending : await claimNext(campaignId, instanceId, job.id, open, campaign.timezone, want, instance.sendsUnderMessageId);
      pending = rows;
      exhausted = rows.length < want;
      const candidates = rows.map((r) => ({ tenantId, phone: r.phone, holder: r.id }));
      const taken = await takePhones(deps.redis, candidates, deps.phoneLockMs);
      const busy: string[] = [];
      rows.forEach((r, i) => {
        if (taken[i]) {
          claimed.push(r);
          holds.push(candidates[i] as PhoneHold);
        } else busy.push(r.id);
      });
      pending = rows.filter((r) => busy.includes(r.id));
      await unclaim(busy, new Date(clock.ms() + 2000));
      pending = [];
      want = busy.length;
    }
  } catch (err) {
    // Nothing was called yet (Redis or the database failed between the claim and the calls): every
    // recipient this chunk holds goes back to the queue, rather than wait SENDING for the reaper.
    await giveBackPhones(deps.redis, holds).catch(() => undefined);
    await unclaim([...claimed, ...pending].map((r) => r.id), null).catch((e) => deps.log.warn({ err: (e as Error).message }, 'claimed recipients could not be put back; the reaper will'));
    throw err;
  }
  for (const s of chunk.slice(0, claimed.length)) used.add(s);
  tally.add('nothing-to-send', confirmed - claimed.length);
  held.giveBack(chunk.length - claimed.length);
  if (claimed.length === 0) return { go: !exhausted, sending: null };
  // Slot i was confirmed for claimed[i].
  const slotOf = new Map(claimed.map((r, i) => [r.id, chunk[i] as string]));
  return { go: !exhausted, sending: callAndRecord(deps, campaign, instance, claimed, holds, tally, held, slotOf) };
}

async function callAndRecord(
  deps: DispatchDeps,
  campaign: SendCampaign,
  instance: SendInstance,
  claimed: ClaimedRow[],
  holds: PhoneHold[],
  tally: Tally,
  held: HeldPermits,
  slotOf: Map<string, string>,
) {
  try {
    const done: CallResult[] = [];
    const late: Array<{ slot: string; at: number }> = [];
    const calls = await Promise.allSettled(
      claimed.map(async (c) => {
        try {
          const r = await call(campaign, instance, c);
          done.push(r);
          const slot = slotOf.get(c.id);
          if (slot && r.outcome.durationMs > SLOW_ANSWER_MS && (r.outcome.kind === 'sent' || r.outcome.kind === 'unknown')) late.push({ slot, at: clock.ms() });
        } finally {
          held.giveBack(1);
        }
      }),
    );
    // A send counts against the limits from when Evolution may have handled it: for a slow answer,
    // up to when it came (a hung Evolution handles what it held all at once when it wakes up).
    if (late.length) await deps.limiter.restamp(instance.id, late).catch(() => undefined);
    // The calls were made: their outcomes must be recorded, even across a database restart.
    await whileDatabaseRecovers(() => recordOutcomes(deps, campaign, instance, done), { log: deps.log, what: 'recording sends' });
    for (const r of done) tally.add(r.outcome.kind);
    // A call that threw (not an Evolution outcome: those are values) leaves its recipient SENDING
    // for the reaper, which makes it UNKNOWN unless a send.message proof says it left.
    const failed = calls.find((c): c is PromiseRejectedResult => c.status === 'rejected');
    if (failed) throw failed.reason;
  } finally {
    await giveBackPhones(deps.redis, holds).catch(() => undefined);
  }
}

async function call(campaign: SendCampaign, instance: SendInstance, claimed: ClaimedRow): Promise<CallResult> {
  const rendered = renderTemplate(
    claimed.text,
    {
      name: claimed.name,
      phone: claimed.phone,
      referredBy: claimed.referred_by,
      customFields: claimed.custom_fields ?? {},
      timezone: claimed.timezone ?? campaign.timezone,
    },
    clock.now(),
  );
  const text = await withTrackedLinks(campaign.tenantId, campaign.id, claimed.id, claimed.message_id, rendered);
  const { endpoint, body } = requestFor(claimed, text, claimed.request_key_id);
  const outcome =
    endpoint === 'sendText'
      ? await instance.client.sendText(instance.name, body as SendTextBody)
      : await instance.client.sendMedia(instance.name, body as SendMediaBody);
  return { claimed, text, request: requestSummary(endpoint, body), outcome };
}

/**
 * Records the outcomes in the order the calls finished. Accepted sends in a row are recorded
 * together (one transaction); any other outcome on its own, as it happened between them, so that
 * the campaign's count of consecutive errors follows the calls.
 */
async function recordOutcomes(deps: DispatchDeps, campaign: SendCampaign, instance: SendInstance, done: readonly CallResult[]) {
  let run: AcceptedSend[] = [];
  const flush = async () => {
    if (run.length === 0) return;
    const sends = run;
    run = [];
    await recordAcceptedSends(campaign.tenantId, campaign.id, instance.id, sends, deps.log);
  };
  for (const r of done) {
    if (r.outcome.kind === 'sent') {
      run.push({ recipientId: r.claimed.id, contactId: r.claimed.contact_id, phone: r.claimed.phone, text: r.text, request: r.request, outcome: r.outcome });
      continue;
    }
    await flush();
    await recordOutcome(deps, campaign, instance, r.claimed, r.text, r.request, r.outcome);
  }
  await flush();
}

async function recordOutcome(
  deps: DispatchDeps,
  campaign: SendCampaign,
  instance: SendInstance,
  claimed: ClaimedRow,
  text: string,
  request: ReturnType<typeof requestSummary>,
  outcome: SendOutcome,
) {
  const base: LogBase = {
    tenantId: campaign.tenantId,
    campaignId: campaign.id,
    instanceId: instance.id,
    contactId: claimed.contact_id,
    recipientId: claimed.id,
    durationMs: outcome.durationMs,
    request,
    httpStatus: outcome.httpStatus,
    actor: 'worker',
  };
  switch (outcome.kind) {
    case 'sent':
      return recordAcceptedSends(campaign.tenantId, campaign.id, instance.id, [{ recipientId: claimed.id, contactId: claimed.contact_id, phone: claimed.phone, text, request, outcome }], deps.log);

    case 'not_on_whatsapp':
      return inTransaction(async (tx, after) => {
        if (!(await finish(tx, claimed.id, 'FAILED', 'NOT_ON_WHATSAPP', outcome.message, text))) return;
        await tx.$executeRaw`UPDATE contact SET not_on_whatsapp = true, updated_at = now() WHERE id = ${claimed.contact_id}::uuid`;
        await appendLog(tx, after, {
          ...base,
          type: 'MESSAGE_FAILED',
          severity: 'WARNING',
          message: `${claimed.phone} is not on WhatsApp; the contact is flagged and will be skipped from now on`,
          response: { message: outcome.message },
        });
        await bumpCampaign(tx, after, campaign.id, { failed: 1, remaining: -1 });
      });

    case 'unauthorized':
    case 'instance_not_found': {
      const reason =
        outcome.kind === 'unauthorized'
          ? 'Evolution refused the API key (401): check the server key'
          : `Evolution does not know instance "${instance.name}" (404)`;
      await unclaim([claimed.id], null);
      await inTransaction(async (tx, after) => {
        const paused = await tx.$executeRaw`
          UPDATE whatsapp_instance SET manually_paused = true, paused_reason = ${reason}, paused_at = now(), updated_at = now()
          WHERE id = ${instance.id}::uuid AND NOT manually_paused`;
        if (paused) {
          await appendLog(tx, after, {
            ...base,
            type: 'INSTANCE_PAUSED',
            severity: 'ERROR',
            message: `instance ${instance.name} paused: ${reason}; the recipient goes back to the queue`,
            response: { message: outcome.message },
          });
          after.publish('instance:health', { tenantId: campaign.tenantId, instanceId: instance.id });
        }
      });
      await deps.requestPump(campaign.tenantId, campaign.id);
      return;
    }

    case 'unavailable': {
      // No answer at all (connection refused, DNS): the server is away, not this message. It waits
      // for the server without using an attempt; the campaign is not paused for it.
      if (outcome.httpStatus === null) return waitForServer(deps, campaign, instance, claimed, base, outcome.message);
      if (claimed.attempts < campaign.maxAttempts) {
        const at = new Date(clock.ms() + backoffMs(claimed.attempts));
        await unclaimForRetry(claimed.id, at, outcome.message);
        await inTransaction(async (tx, after) => {
          await appendLog(tx, after, {
            ...base,
            type: 'ERROR',
            severity: 'WARNING',
            message: `send not delivered to Evolution (${outcome.message}); attempt ${claimed.attempts} of ${campaign.maxAttempts}, retrying at ${at.toISOString()}`,
            response: { message: outcome.message },
            details: { retryAt: at.toISOString(), attempt: claimed.attempts },
          });
          await applyInstanceDeltas(tx, instance.id, { ...emptyDeltas().instance, errors: true });
          await bumpCampaign(tx, after, campaign.id, {}, [Prisma.sql`consecutive_errors = consecutive_errors + 1`]);
        });
        await deps.requestPump(campaign.tenantId, campaign.id, at.getTime() - clock.ms());
      } else {
        await failed(deps, base, claimed, text, 'UNAVAILABLE', `gave up after ${claimed.attempts} attempts: ${outcome.message}`);
      }
      return checkErrorThreshold(campaign);
    }

    case 'rejected':
      await failed(deps, base, claimed, text, 'REJECTED', `Evolution refused the message (${outcome.httpStatus}): ${outcome.message}`);
      return checkErrorThreshold(campaign);

    case 'unknown': {
      // A broken connection or no answer in time says as much about the server as about this send.
      const transport = outcome.httpStatus === null;
      if (transport) await markUnreachable(instance.id).catch(() => undefined);
      await inTransaction(async (tx, after) => {
        if ((await settleUnknownOutcome(tx, after, { ...base, campaignId: campaign.id }, outcome.message, text)) !== 'unknown') return;
        await appendLog(tx, after, {
          ...base,
          type: 'OUTCOME_UNKNOWN',
          severity: 'ERROR',
          message: `the send may or may not have reached WhatsApp (${outcome.message}); it is not sent again, but checked against Evolution's message store`,
          response: { message: outcome.message },
        });
        await applyInstanceDeltas(tx, instance.id, { ...emptyDeltas().instance, errors: !transport });
        // Unknown outcomes of an outage do not pause the campaign: the error threshold is for sends
        // WhatsApp or Evolution refused, not for a server that went away.
        await bumpCampaign(tx, after, campaign.id, { unknown: 1, remaining: -1 }, transport ? [] : [Prisma.sql`consecutive_errors = consecutive_errors + 1`]);
      });
      return checkErrorThreshold(campaign);
    }
  }
}

/**
 * The instance's Evolution did not answer: the recipient goes back to the queue as if never claimed
 * (no attempt used) until the server may be asked again, and the campaign says so once per outage.
 */
async function waitForServer(deps: DispatchDeps, campaign: SendCampaign, instance: SendInstance, claimed: ClaimedRow, base: LogBase, reason: string) {
  const { until, started } = await markUnreachable(instance.id);
  await unclaim([claimed.id], until);
  if (started) {
    await inTransaction(async (tx, after) => {
      await appendLog(tx, after, {
        ...base,
        type: 'ERROR',
        severity: 'WARNING',
        message: `Evolution does not answer for instance ${instance.name} (${reason}): its sends wait and are tried again as it comes back; none is lost`,
        response: { message: reason },
        details: { cause: 'unreachable', retryAt: until.toISOString() },
      });
    });
  }
  await deps.requestPump(campaign.tenantId, campaign.id, until.getTime() - clock.ms());
}

async function unclaimForRetry(recipientId: string, at: Date, error: string) {
  await prisma.$executeRaw`
    UPDATE recipient SET status = 'QUEUED', sending_at = NULL, claim_token = NULL, not_before = ${at},
      error_code = 'UNAVAILABLE', error = ${error}, updated_at = now()
    WHERE id = ${recipientId}::uuid AND status = 'SENDING'`;
}

/** Moves a SENDING recipient to FAILED; false when it had already left SENDING. */
async function finish(tx: Tx, recipientId: string, status: 'FAILED', code: string, error: string, text: string | null) {
  const n = await tx.$executeRaw`
    UPDATE recipient SET status = ${status}::"RecipientStatus", error_code = ${code}, error = ${error},
      rendered_text = COALESCE(${text}, rendered_text), failed_at = now(), claim_token = NULL, updated_at = now()
    WHERE id = ${recipientId}::uuid AND status = 'SENDING'`;
  return n > 0;
}

/** An answer slower than this moves the send's slot to when it came (see callAndRecord). */
const SLOW_ANSWER_MS = 1000;

/** The first look in Evolution's message store, a few seconds after a send's outcome was lost. */
const FIRST_LOOKUP_MS = 5000;

/**
 * A send whose outcome is unknown (timeout, broken connection, crash). If a `send.message` webhook
 * already proved it left, it is SENT (settleConfirmedSend). Otherwise it becomes UNKNOWN and is resolved
 * against Evolution's message store (src/dispatch/reconcile.ts): never sent again blindly.
 *
 * The UNKNOWN update applies only while no proof is on the row: a `send.message` handler that writes
 * one (under the row lock) while this waits for that lock makes it match nothing, and the loop then
 * settles the proof. (Reading the proof first and writing UNKNOWN after, without that condition, left a
 * delivered message UNKNOWN with its receipts parked.) A proof naming a key id another recipient holds
 * proves nothing and does not stop it.
 */
async function settleUnknownOutcome(
  tx: Tx,
  after: AfterCommit,
  base: { tenantId: string; campaignId: string; instanceId: string | null; contactId: string; recipientId: string; actor: string },
  reason: string,
  text: string | null,
): Promise<'sent' | 'unknown' | 'gone'> {
  for (let round = 0; round < 3; round++) {
    if (await settleConfirmedSend(tx, after, base, reason, text)) return 'sent';
    const n = await tx.$executeRaw`
      UPDATE recipient r SET status = 'UNKNOWN', error_code = 'OUTCOME_UNKNOWN', error = ${reason},
        rendered_text = COALESCE(${text}, r.rendered_text), claim_token = NULL, updated_at = now(),
        reconcile_at = now() + make_interval(secs => ${FIRST_LOOKUP_MS / 1000}), reconcile_attempts = 0,
        evidence = jsonb_build_object('reason', ${reason}::text, 'sendingAt', r.sending_at, 'requestKeyId', r.request_key_id, 'lookups', '[]'::jsonb)
      WHERE r.id = ${base.recipientId}::uuid AND r.status = 'SENDING'
        AND (r.confirmed_key_id IS NULL OR EXISTS (SELECT 1 FROM recipient o WHERE o.provider_message_id = r.confirmed_key_id))`;
    if (n > 0) return 'unknown';
    const [row] = await tx.$queryRaw<Array<{ status: string }>>`SELECT status::text FROM recipient WHERE id = ${base.recipientId}::uuid`;
    if (row?.status !== 'SENDING') return 'gone';
  }
  return 'gone';
}

async function failed(
  deps: DispatchDeps,
  base: LogBase,
  claimed: ClaimedRow,
  text: string,
  code: string,
  message: string,
) {
  await inTransaction(async (tx, after) => {
    if (!(await finish(tx, claimed.id, 'FAILED', code, message, text))) return;
    await appendLog(tx, after, { ...base, type: 'MESSAGE_FAILED', severity: 'ERROR', message });
    await applyInstanceDeltas(tx, base.instanceId, { ...emptyDeltas().instance, failed: 1, errors: true, health: -10 });
    after.publish('instance:health', { tenantId: base.tenantId, instanceId: base.instanceId });
    await bumpCampaign(tx, after, base.campaignId, { failed: 1, remaining: -1 }, [Prisma.sql`consecutive_errors = consecutive_errors + 1`]);
  });
  // The score just dropped: apply the threshold now rather than when the queued check runs.
  await checkInstanceHealth(base.instanceId, (t, c) => deps.requestPump(t, c));
}

async function checkErrorThreshold(campaign: SendCampaign) {
  const [row] = await prisma.$queryRaw<Array<{ over: boolean; n: number }>>`
    SELECT consecutive_errors >= error_threshold AS over, consecutive_errors AS n FROM campaign WHERE id = ${campaign.id}::uuid`;
  if (row?.over) {
    await autoPauseCampaign(campaign.tenantId, campaign.id, `${row.n} consecutive send errors (threshold ${campaign.errorThreshold})`, {
      consecutiveErrors: row.n,
      threshold: campaign.errorThreshold,
    });
  }
}

/**
 * A send whose own outcome was lost (timeout, crash) but whose `send.message` webhook already proved
 * it left (the proof is kept on the recipient while it is SENDING): it is SENT, not UNKNOWN, and any
 * receipt that arrived meanwhile is applied. The key's advisory lock is taken before the row's, as on
 * the webhook path. Returns false when there is no such proof.
 */
async function settleConfirmedSend(
  tx: Tx,
  after: AfterCommit,
  base: { tenantId: string; campaignId: string; instanceId: string | null; contactId: string; recipientId: string; actor: string },
  reason: string,
  text: string | null,
): Promise<boolean> {
  // The proof: a send.message for it, or, for a send made under a key id we chose (Evolution 2.4.0+),
  // any receipt that names that key id (parked, since no recipient held it yet).
  const [proof] = await tx.$queryRaw<Array<{ key: string | null; by: string }>>`
    SELECT COALESCE(r.confirmed_key_id, p.key_id) AS key, CASE WHEN r.confirmed_key_id IS NOT NULL THEN 'send.message' ELSE 'a delivery receipt' END AS by
    FROM recipient r
    LEFT JOIN LATERAL (
      SELECT key_id FROM pending_receipt WHERE r.request_key_id IS NOT NULL AND key_id = r.request_key_id AND instance_id = r.instance_id LIMIT 1
    ) p ON true
    WHERE r.id = ${base.recipientId}::uuid AND r.status = 'SENDING'`;
  if (!proof?.key) return false;
  await lockProviderMessage(tx, proof.key);
  const rows = await tx.$queryRaw<Array<{ sent_at: Date; instance_id: string | null }>>`
    UPDATE recipient SET status = 'SENT', provider_message_id = ${proof.key}, sent_at = COALESCE(sending_at, now()),
      rendered_text = COALESCE(${text}, rendered_text), claim_token = NULL, error = NULL, error_code = NULL, updated_at = now()
    WHERE id = ${base.recipientId}::uuid AND status = 'SENDING' AND (confirmed_key_id = ${proof.key} OR request_key_id = ${proof.key})
      -- A proof naming a key id another message already holds proves nothing about this one.
      AND NOT EXISTS (SELECT 1 FROM recipient o WHERE o.provider_message_id = ${proof.key})
    RETURNING sent_at, instance_id`;
  const row = rows[0];
  if (!row) return false;
  const instanceId = row.instance_id ?? base.instanceId;
  await appendLog(tx, after, {
    ...base,
    instanceId,
    type: 'MESSAGE_SENT',
    severity: 'WARNING',
    message: `the send's own answer was lost (${reason}), but Evolution confirmed it left (${proof.by})`,
    details: { keyId: proof.key, confirmedBy: proof.by },
  });
  await applyInstanceDeltas(tx, instanceId, { ...emptyDeltas().instance, sent: 1 });
  await bumpCampaign(tx, after, base.campaignId, { sent: 1, remaining: -1 });
  if (instanceId) {
    const recipient = { id: base.recipientId, tenantId: base.tenantId, campaignId: base.campaignId, instanceId, contactId: base.contactId, status: 'SENT', sentAt: row.sent_at, deliveredAt: null, readAt: null, playedAt: null, failedAt: null };
    await applyParkedReceipts(tx, after, recipient, instanceId, proof.key);
  }
  return true;
}

/** Recipients claimed by a job run that died: their send may have happened, so they become UNKNOWN. */
export async function markCrashedClaims(token: string): Promise<number> {
  const rows = await prisma.$queryRaw<Array<{ id: string; tenant_id: string; campaign_id: string; instance_id: string | null; contact_id: string }>>`
    SELECT id, tenant_id, campaign_id, instance_id, contact_id FROM recipient WHERE claim_token = ${token} AND status = 'SENDING'`;
  await markAllUnknown(rows, 'the worker sending this message stopped mid-send');
  return rows.length;
}

/**
 * `markUnknown` for each row; a row that fails does not stop the others (a sweep that always failed
 * on its first row would never reach the rest). Throws the first error once all were tried.
 */
export async function markAllUnknown(
  rows: ReadonlyArray<Parameters<typeof markUnknown>[0]>,
  reason: string,
): Promise<void> {
  let first: unknown = null;
  for (const r of rows) {
    try {
      await markUnknown(r, reason);
    } catch (err) {
      first ??= err;
    }
  }
  if (first) throw first;
}

export async function markUnknown(
  r: { id: string; tenant_id: string; campaign_id: string; instance_id: string | null; contact_id: string },
  reason: string,
) {
  await inTransaction(async (tx, after) => {
    const base = { tenantId: r.tenant_id, campaignId: r.campaign_id, instanceId: r.instance_id, contactId: r.contact_id, recipientId: r.id, actor: 'worker' };
    if ((await settleUnknownOutcome(tx, after, base, reason, null)) !== 'unknown') return;
    await appendLog(tx, after, {
      tenantId: r.tenant_id,
      campaignId: r.campaign_id,
      instanceId: r.instance_id,
      contactId: r.contact_id,
      recipientId: r.id,
      type: 'OUTCOME_UNKNOWN',
      severity: 'ERROR',
      message: `${reason}; outcome unknown: not sent again, but checked against Evolution's message store`,
      actor: 'worker',
    });
    await bumpCampaign(tx, after, r.campaign_id, { unknown: 1, remaining: -1 });
  });
}
