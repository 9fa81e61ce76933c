import { Repeater } from 'graphql-yoga';
import { config } from '../config/index.js';
import { channel, pubsubEngine } from './pubsub.js';
import type { CampaignProgressEvent } from './topics.js';

/**
 * A campaign's progress as a stream: the current state first, then changes, coalesced so that a
 * subscriber gets at most one event per `intervalMs` (the first at once, the last always).
 *
 * It subscribes before reading the current state, and drops any event not newer (by version) than
 * what was already sent, so nothing is lost between the read and the first event and nothing goes
 * backwards when events from several workers arrive out of order.
 */
export function campaignProgressStream(
  tenantId: string,
  campaignId: string,
  readCurrent: () => Promise<CampaignProgressEvent | null>,
  intervalMs = config.progressIntervalMs,
): AsyncIterable<CampaignProgressEvent> {
  return new Repeater<CampaignProgressEvent>(async (push, stop) => {
    const engine = pubsubEngine();
    let sentVersion = -1n;
    let pending: CampaignProgressEvent | null = null;
    let timer: NodeJS.Timeout | null = null;
    let lastSentAt = 0;
    let ready = false;

    const send = (event: CampaignProgressEvent) => {
      sentVersion = BigInt(event.version);
      lastSentAt = Date.now();
      void push(event);
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
      if (pending && BigInt(event.version) <= BigInt(pending.version)) return;
      if (BigInt(event.version) <= sentVersion) return;
      pending = event;
      schedule();
    });
    try {
      const current = await readCurrent();
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
