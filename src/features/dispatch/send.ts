import { autoPauseCampaign, completeIfDone } from '../campaigns/lifecycle.js';
import { appendLog } from '../campaigns/logs.js';
import { bumpCampaign } from '../campaigns/progress.js';
import { sqlRows } from '../../infra/db/sql.js';
import { Prisma } from '../../generated/prisma/client.js';
import { whileDatabaseRecovers } from '../../infra/db/outage.js';
import { inTransaction } from '../../infra/db/transaction.js';
import { effectiveLimits } from '../../domain/instances.js';
import { campaignLimits } from '../../domain/pacing.js';
import { decideSendOutcome } from '../../domain/send-outcome.js';
import { renderVariation } from '../../domain/wa-template.js';
import type { SendOutcome } from '../../infra/evolution/client.js';
import { requestFor, requestSummary, type SendRequest, templateRequest } from '../../infra/evolution/requests.js';
import { checkInstanceHealth } from '../health/service.js';
import { clock } from '../../infra/lib/clock.js';
import type { Logger } from '../../infra/lib/logger.js';
import { withTrackedLinks } from '../links/track.js';
import { type ClaimedRow, claimNext, overFrequencyCap, unclaim } from '../recipients/claim.js';
import { failSend, markCrashedClaims, recordUnknownSend, requeueForRetry, type SendLogBase } from '../recipients/outcomes.js';
import { type AcceptedSend, recordAcceptedSends } from '../recipients/record-sent.js';
import { type RedisClient, tenantKey } from '../../infra/redis.js';
import { openZones, type SendCampaign, type SendInstance, sendCampaign, sendInstance } from './context.js';
import type { InstanceLimiter } from './limiter.js';
import { markUnreachable } from './outage.js';
import { markThrottled } from './throttle.js';
import { CONNECTION_STATE, markDisconnected } from '../senders/connection.js';
import { GATE_MAX_WAIT_MS, type Pace, passedGate, waitAtGate } from './pace.js';
import { config } from '../../infra/config/index.js';
import type { SendPermits } from './permits.js';
import { giveBackPhones, type PhoneHold, takePhones } from './phone-locks.js';
import { countDeferral, sendsTotal } from '../../infra/metrics/registry.js';

export interface SendJob {
  id: string;
  attemptsStarted: number;
  data: { tenantId: string; campaignId: string; instanceId: string; slots: string[]; slotAt: number; day: string };
}

export interface DispatchDeps {
  redis: RedisClient;
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

/**
 * Send jobs of a campaign scheduled and not yet run (slot ids scored by slot time). In the tenant's
 * slot (tenantKey), with the tenant's set: one MULTI updates both.
 */
export function outstandingKey(tenantId: string, campaignId: string) {
  return tenantKey(tenantId, 'scheduled', campaignId);
}

/** The same across all campaigns of a tenant: bounded so that no tenant fills the queue ahead of others. */
export function tenantOutstandingKey(tenantId: string) {
  return tenantKey(tenantId, 'scheduled-tenant');
}

/**
 * How a job's slots went, for its log line: `sent` once, or e.g. `sent 18, nothing-to-send 2`. The
 * deferrals among them (rate-wait, window-closed, …) are counted in wc_dispatch_deferrals_total here.
 */
class Tally {
  private readonly counts = new Map<string, number>();
  add(what: string, n = 1) {
    if (n <= 0) return;
    this.counts.set(what, (this.counts.get(what) ?? 0) + n);
    countDeferral('campaign', what, n);
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
  let caps: SendCampaign['caps'] = null;
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
    caps = campaign.caps;

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
    if (!rerun && unused.length > 0) await deps.limiter.releaseMany(tenantId, instanceId, unused, day, caps).catch(() => undefined);
    const key = outstandingKey(tenantId, campaignId);
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
  const confirmedAt = clock.ms();
  const [asked, claimedFirst] = await Promise.allSettled([
    deps.limiter.confirmMany(tenantId, instanceId, chunk, effectiveLimits(instance.limits, now), confirmedAt, campaign.caps),
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
      // Held through the wait at the pace gate and the typing presence too.
      const taken = await takePhones(deps.redis, candidates, deps.phoneLockMs + GATE_MAX_WAIT_MS + campaign.typingDelayMs);
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
    // The frequency cap, judged again now that no other send to these phones can be in flight.
    const over = new Set(await overFrequencyCap(claimed));
    if (over.size > 0) {
      const kept = claimed.flatMap((r, i) => (over.has(r.id) ? [] : [[r, holds[i] as PhoneHold] as const]));
      await giveBackPhones(deps.redis, holds.filter((h) => over.has(h.holder)));
      claimed.splice(0, claimed.length, ...kept.map(([r]) => r));
      holds.splice(0, holds.length, ...kept.map(([, h]) => h));
      await unclaim([...over], null);
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
  return { go: !exhausted, sending: callAndRecord(deps, campaign, instance, claimed, holds, tally, held, slotOf, confirmedAt) };
}

/** The pace of an instance's sends for a campaign: its delays (the campaign's raise the instance's) and typing. */
export function paceFor(instance: SendInstance, campaign: SendCampaign, now: Date): Pace {
  const { minDelayMs, maxDelayMs } = campaignLimits(effectiveLimits(instance.limits, now), campaign);
  return { minDelayMs, maxDelayMs, typingDelayMs: campaign.typingDelayMs };
}

/**
 * Renders the chunk's requests, then passes each through the pace gate (pace.ts) and calls Evolution
 * as soon as it is granted: nothing slow sits between the grant and the request. A recipient the gate
 * refuses (the campaign was paused or cancelled, or it waited too long) goes back to the queue as if
 * never claimed: nothing was called for it.
 */
async function callAndRecord(
  deps: DispatchDeps,
  campaign: SendCampaign,
  instance: SendInstance,
  claimed: ClaimedRow[],
  holds: PhoneHold[],
  tally: Tally,
  held: HeldPermits,
  slotOf: Map<string, string>,
  /** When the limiter confirmed these sends' slots. */
  confirmedAt: number,
) {
  try {
    const done: CallResult[] = [];
    const late: Array<{ slot: string; at: number }> = [];
    const prepared = await Promise.allSettled(claimed.map((c) => prepare(campaign, c)));
    const ready: Prepared[] = [];
    const unprepared: string[] = [];
    prepared.forEach((p, i) => {
      if (p.status === 'fulfilled') ready.push(p.value);
      else unprepared.push((claimed[i] as ClaimedRow).id);
    });
    const callsMade: Array<Promise<void>> = [];
    let notCalled: { error: unknown } | null = null;
    const putBack = async (rows: Prepared[], what: string) => {
      if (rows.length === 0) return;
      tally.add(what, rows.length);
      held.giveBack(rows.length);
      await unclaim(rows.map((p) => p.claimed.id), null);
    };
    let waiting = ready;
    // Set when a call of this chunk answers that the number is not connected: the rest are not called.
    let disconnected = false;
    try {
      const pace = paceFor(instance, campaign, clock.now());
      while (waiting.length > 0) {
        if (disconnected) {
          const refused = waiting;
          waiting = [];
          await putBack(refused, 'disconnected');
          break;
        }
        const answer = await waitAtGate(deps.redis, instance.tenantId, instance.id, campaign.id, pace, waiting.length, config.evolutionTimeoutMs + pace.typingDelayMs);
        if (answer.kind !== 'granted') {
          const refused = waiting;
          waiting = [];
          await putBack(refused, answer.kind === 'stopped' ? 'stopped' : 'pace-timeout');
          break;
        }
        // The window may have closed while they waited at the gate: those outside it now go back, uncalled.
        const open = await openZones(campaign, clock.now());
        if (open !== null) {
          const isOpen = (p: Prepared) => open.includes(p.claimed.window_zone ?? campaign.timezone);
          const closed = waiting.filter((p) => !isOpen(p));
          if (closed.length > 0) {
            // The grant goes unused (the next call then waits a gap from now).
            await passedGate(deps.redis, answer.ticket);
            waiting = waiting.filter(isOpen);
            await putBack(closed, 'window-closed');
            if (waiting.length === 0) break;
            continue;
          }
        }
        let granted = waiting.slice(0, answer.count);
        waiting = waiting.slice(answer.count);
        // Held at the gate since the limiter confirmed their slots: confirmed again at the time of the call
        // (each slot moves to now), so that sends released together after a wait cannot crowd a minute.
        const slots = granted.map((p) => slotOf.get(p.claimed.id));
        if (clock.ms() - confirmedAt > RECONFIRM_AFTER_MS && slots.every((x): x is string => x !== undefined)) {
          const ok = await deps.limiter.confirmMany(instance.tenantId, instance.id, slots, effectiveLimits(instance.limits, clock.now()), clock.ms(), campaign.caps);
          if (ok < granted.length) {
            const refused = granted.slice(ok);
            granted = granted.slice(0, ok);
            // An unused grant: the next call then waits a gap from now.
            if (granted.length === 0) await passedGate(deps.redis, answer.ticket);
            await putBack(refused, 'rate-wait');
            if (granted.length === 0) continue;
          }
        }
        if (disconnected) {
          // Learnt while this grant was waited for: the grant goes unused, and the granted go back with the rest (loop top).
          await passedGate(deps.redis, answer.ticket);
          waiting = [...granted, ...waiting];
          continue;
        }
        for (const p of granted) {
          callsMade.push(
            (async () => {
              try {
                const r = await call(instance, p).finally(() => passedGate(deps.redis, answer.ticket).catch(() => undefined));
                if (r.outcome.kind === 'disconnected') disconnected = true;
                done.push(r);
                const slot = slotOf.get(p.claimed.id);
                const slow = r.outcome.durationMs > SLOW_ANSWER_MS + pace.typingDelayMs;
                if (slot && slow && (r.outcome.kind === 'sent' || r.outcome.kind === 'unknown')) late.push({ slot, at: clock.ms() });
              } finally {
                held.giveBack(1);
              }
            })(),
          );
        }
      }
    } catch (err) {
      // Redis or the database failed at the gate: whoever was not granted was not called.
      const refused = waiting;
      waiting = [];
      notCalled = { error: err };
      await putBack(refused, 'gate-failed').catch((e) => deps.log.warn({ err: (e as Error).message }, 'claimed recipients could not be put back; the reaper will'));
    }
    if (unprepared.length) {
      // Rendering failed (the database, for tracked links): nothing was called for them.
      held.giveBack(unprepared.length);
      await unclaim(unprepared, null).catch(() => undefined);
      notCalled ??= { error: prepared.find((p): p is PromiseRejectedResult => p.status === 'rejected')?.reason };
    }
    const calls = await Promise.allSettled(callsMade);
    // What Evolution answered, counted once per call whether or not recording it succeeds below.
    for (const r of done) sendsTotal.inc({ source: 'campaign', outcome: r.outcome.kind, integration: instance.integration });
    // A send counts against the limits from when Evolution may have handled it: for a slow answer,
    // up to when it came (a hung Evolution handles what it held all at once when it wakes up).
    if (late.length) await deps.limiter.restamp(instance.tenantId, instance.id, late, campaign.caps).catch(() => undefined);
    // The calls were made: their outcomes must be recorded, even across a database restart.
    await whileDatabaseRecovers(() => recordOutcomes(deps, campaign, instance, done), { log: deps.log, what: 'recording sends' });
    for (const r of done) tally.add(r.outcome.kind);
    // A call that threw (not an Evolution outcome: those are values) leaves its recipient SENDING
    // for the reaper, which makes it UNKNOWN unless a send.message proof says it left.
    const failed = calls.find((c): c is PromiseRejectedResult => c.status === 'rejected');
    if (failed) throw failed.reason;
    if (notCalled) throw notCalled.error;
  } finally {
    await giveBackPhones(deps.redis, holds).catch(() => undefined);
  }
}

type Prepared = { claimed: ClaimedRow; text: string } & SendRequest;

/**
 * Renders a recipient's message and builds its request: a template (sendTemplate) when its variation is
 * one and its instance is WHATSAPP_BUSINESS; otherwise text (with its tracked links) or media. A
 * template variation on another instance sends its rendered body as text.
 */
async function prepare(campaign: SendCampaign, claimed: ClaimedRow): Promise<Prepared> {
  const rendered = renderVariation(
    { text: claimed.text, templateName: claimed.template_name, templateLanguage: claimed.template_language, templateParams: claimed.template_params },
    {
      name: claimed.name,
      phone: claimed.phone,
      referredBy: claimed.referred_by,
      customFields: claimed.custom_fields ?? {},
      timezone: claimed.timezone ?? campaign.timezone,
    },
    clock.now(),
  );
  if (claimed.send_template && rendered.template) {
    return { claimed, text: rendered.text, ...templateRequest(claimed.phone, rendered.template, campaign.typingDelayMs) };
  }
  const text = rendered.template ? rendered.text : await withTrackedLinks(campaign.tenantId, campaign.id, claimed.id, claimed.message_id, rendered.text);
  return { claimed, text, ...requestFor(claimed, text, claimed.request_key_id, campaign.typingDelayMs) };
}

async function call(instance: SendInstance, p: Prepared): Promise<CallResult> {
  const outcome =
    p.endpoint === 'sendText'
      ? await instance.client.sendText(instance.name, p.body)
      : p.endpoint === 'sendMedia'
        ? await instance.client.sendMedia(instance.name, p.body)
        : await instance.client.sendTemplate(instance.name, p.body);
  return { claimed: p.claimed, text: p.text, request: requestSummary(p.endpoint, p.body), outcome };
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
  const base: SendLogBase = {
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
  const decision = decideSendOutcome(outcome, {
    attempts: claimed.attempts,
    maxAttempts: campaign.maxAttempts,
    phone: claimed.phone,
    instanceName: instance.name,
    nowMs: clock.ms(),
  });
  switch (decision.kind) {
    case 'sent':
      if (outcome.kind !== 'sent') throw new Error(`a ${outcome.kind} outcome decided as sent`);
      return recordAcceptedSends(campaign.tenantId, campaign.id, instance.id, [{ recipientId: claimed.id, contactId: claimed.contact_id, phone: claimed.phone, text, request, outcome }], deps.log);
    case 'fail':
      await failSend(base, text, decision);
      // The score just dropped: apply the threshold now rather than when the queued check runs.
      if (decision.instanceError) await checkInstanceHealth(instance.id, (t, c) => deps.requestPump(t, c));
      return checkErrorThreshold(campaign);
    case 'retry':
      await requeueForRetry(base, decision, campaign.maxAttempts);
      await deps.requestPump(campaign.tenantId, campaign.id, decision.atMs - clock.ms());
      return checkErrorThreshold(campaign);
    case 'pause-instance':
      await unclaim([claimed.id], null);
      await pauseInstance(instance, decision.reason, base, decision.response);
      await deps.requestPump(campaign.tenantId, campaign.id);
      return;
    case 'throttle':
      return deferThrottled(deps, campaign, instance, claimed, base, decision.reason, decision.retryAfterMs);
    case 'disconnected':
      return pauseDisconnected(deps, campaign, instance, claimed, base, decision.reason, decision.state);
    case 'wait-for-server':
      return waitForServer(deps, campaign, instance, claimed, base, decision.reason);
    case 'unknown':
      // A broken connection or no answer in time says as much about the server as about this send.
      if (decision.transport) await markUnreachable(instance.id).catch(() => undefined);
      await recordUnknownSend(base, text, decision);
      return checkErrorThreshold(campaign);
  }
}

/** The instance cannot send at all (Evolution refused its key or does not know it): paused for an operator. */
async function pauseInstance(instance: SendInstance, reason: string, base: SendLogBase, response: string) {
  await inTransaction(async (tx, after) => {
    const paused = await tx.$executeRaw`
      UPDATE whatsapp_instance SET manually_paused = true, paused_reason = ${reason}, paused_at = now(), updated_at = now()
      WHERE id = ${instance.id}::uuid AND NOT manually_paused`;
    if (!paused) return;
    await appendLog(tx, after, {
      ...base,
      type: 'INSTANCE_PAUSED',
      severity: 'ERROR',
      message: `instance ${instance.name} paused: ${reason}; the recipient goes back to the queue`,
      response: { message: response },
    });
    after.publish('instance:health', { tenantId: instance.tenantId, instanceId: instance.id });
  });
}

/**
 * The number is not connected to WhatsApp (nothing was sent): the recipient goes back to the queue as
 * if never claimed (no attempt used, no error, no health lost, the campaign's errors unchanged), the
 * instance is paused until Evolution says `open` (src/features/senders/connection.ts: one log entry per
 * running campaign, not one per recipient), and its campaigns are pumped so that their share moves to
 * their other instances.
 */
async function pauseDisconnected(deps: DispatchDeps, campaign: SendCampaign, instance: SendInstance, claimed: ClaimedRow, base: SendLogBase, reason: string, state: string | null) {
  await unclaim([claimed.id], null);
  const { campaigns } = await markDisconnected({
    tenantId: instance.tenantId,
    instanceId: instance.id,
    state: state ? (CONNECTION_STATE[state] ?? null) : null,
    reason,
    actor: 'worker',
    log: { recipientId: claimed.id, contactId: claimed.contact_id, httpStatus: base.httpStatus, durationMs: base.durationMs },
  });
  for (const c of new Set([campaign.id, ...campaigns])) await deps.requestPump(campaign.tenantId, c);
}

/**
 * The instance's Evolution did not answer: the recipient goes back to the queue as if never claimed
 * (no attempt used) until the server may be asked again, and the campaign says so once per outage.
 */
async function waitForServer(deps: DispatchDeps, campaign: SendCampaign, instance: SendInstance, claimed: ClaimedRow, base: SendLogBase, reason: string) {
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

/**
 * WhatsApp or a gateway refused the send for going too fast (nothing was sent): the instance is
 * deferred (markThrottled), the recipient goes back to the queue as if never claimed until then. Not an
 * error: no health lost, the campaign's consecutive errors unchanged. The campaign's progress shows
 * the deferral (`throttled_until`) and its log says so, once per deferral it meets.
 */
async function deferThrottled(
  deps: DispatchDeps,
  campaign: SendCampaign,
  instance: SendInstance,
  claimed: ClaimedRow,
  base: SendLogBase,
  reason: string,
  retryAfterMs: number | null,
) {
  const { until, streak } = await markThrottled(instance.id, retryAfterMs);
  await unclaim([claimed.id], until);
  await inTransaction(async (tx, after) => {
    const moved = await tx.$executeRaw`
      UPDATE campaign SET throttled_until = ${until} WHERE id = ${campaign.id}::uuid AND (throttled_until IS NULL OR throttled_until < ${until})`;
    if (!moved) return;
    await appendLog(tx, after, {
      ...base,
      type: 'LIMIT_REACHED',
      severity: 'WARNING',
      message: `instance ${instance.name} is throttled (${reason}): its sends wait until ${until.toISOString()} and are sent then; not a failure`,
      response: { message: reason },
      details: { cause: 'throttled', throttledUntil: until.toISOString(), deferral: streak, retryAfterMs },
    });
    await bumpCampaign(tx, after, campaign.id, {});
  });
  await deps.requestPump(campaign.tenantId, campaign.id, until.getTime() - clock.ms());
}

/**
 * Sends that waited at the pace gate longer than this after their slots were confirmed are confirmed
 * again before their call (well under LIMIT_WINDOW_GUARD_MS, the margin the limit windows keep).
 */
const RECONFIRM_AFTER_MS = 250;

/** An answer slower than this moves the send's slot to when it came (see callAndRecord). */
const SLOW_ANSWER_MS = 1000;

async function checkErrorThreshold(campaign: SendCampaign) {
  const [row] = await sqlRows<{ over: boolean; n: number }>(Prisma.sql`
    SELECT consecutive_errors >= error_threshold AS over, consecutive_errors AS n FROM campaign WHERE id = ${campaign.id}::uuid`);
  if (row?.over) {
    await autoPauseCampaign(campaign.tenantId, campaign.id, `${row.n} consecutive send errors (threshold ${campaign.errorThreshold})`, {
      consecutiveErrors: row.n,
      threshold: campaign.errorThreshold,
    });
  }
}

