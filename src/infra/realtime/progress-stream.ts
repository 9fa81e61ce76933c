import { Repeater } from 'graphql-yoga';
import { config } from '../config/index.js';
import { expectedFinish, SendRate } from '../../domain/progress.js';
import { channel, pubsubEngine } from './pubsub.js';
import type { CampaignProgressEvent } from './topics.js';

/** A progress snapshot as a subscriber sees it: the counters plus the speed measured by this stream. */
export interface LiveProgress extends CampaignProgressEvent {
  sendsPerMinute: number;
  expectedFinishAt: string | null;
}

/** Sends made in the last minute, `ageMs` before now (at most one entry per second), to seed the speed. */
export type RecentSends = () => Promise<Array<{ ageMs: number; n: number }>>;

/**
 * A campaign's progress as a stream: the current state first, then changes, coalesced so that a
 * subscriber gets at most one event per `intervalMs` (the first at once, the last always).
 *
 * It subscribes before reading the current state, and drops any event not newer (by version) than
 * what was already sent, so nothing is lost between the read and the first event and nothing goes
 * backwards when events from several workers arrive out of order.
 *
 * The sending speed is measured from every event received (not only the ones passed on), seeded
 * with the last minute's sends, so no recipient is scanned per event.
 */
export function campaignProgressStream(
  tenantId: string,
  campaignId: string,
  readCurrent: () => Promise<CampaignProgressEvent | null>,
  recentSends: RecentSends = async () => [],
  intervalMs = config.progressIntervalMs,
): AsyncIterable<LiveProgress> {
  return new Repeater<LiveProgress>(async (push, stop) => {
    const engine = pubsubEngine();
    const rate = new SendRate();
    let baseline = -1;
    let sentVersion = -1n;
    let pending: CampaignProgressEvent | null = null;
    let timer: NodeJS.Timeout | null = null;
    let lastSentAt = 0;
    let ready = false;

    const send = (event: CampaignProgressEvent) => {
      sentVersion = BigInt(event.version);
      const now = Date.now();
      lastSentAt = now;
      const sendsPerMinute = rate.perMinute(now);
      void push({ ...event, sendsPerMinute, expectedFinishAt: expectedFinish(event, sendsPerMinute, now) });
    };
    const flush = () => {
      timer = null;
      const p = pending;
      pending = null;
      if (p && BigInt(p.version) > sentVersion) send(p);
    };
    const schedule = () => {
      if (!ready || timer) return;
      const wait = intervalMs - (Date.now() - lastSentAt);
      if (wait <= 0) flush();
      else timer = setTimeout(flush, wait);
    };

    const subId = await engine.subscribe(channel('campaign:progress', tenantId, campaignId), (event: CampaignProgressEvent) => {
      if (event.tenantId !== tenantId || event.campaignId !== campaignId) return;
      // Before the current state is read, events only raise the baseline: their sends are in the seed.
      if (ready) rate.observe(Date.now(), event.sent);
      else baseline = Math.max(baseline, event.sent);
      if (pending && BigInt(event.version) <= BigInt(pending.version)) return;
      if (BigInt(event.version) <= sentVersion) return;
      pending = event;
      schedule();
    });
    try {
      const [current, recent] = await Promise.all([readCurrent(), recentSends()]);
      const now = Date.now();
      for (const r of recent) rate.seed(now - r.ageMs, r.n);
      rate.observe(now, Math.max(baseline, current?.sent ?? 0));
      if (current) send(current);
      ready = true;
      schedule();
      await stop;
    } finally {
      if (timer) clearTimeout(timer);
      engine.unsubscribe(subId);
    }
  });
}
