import { Repeater } from 'graphql-yoga';
import { channel, pubsubEngine } from './pubsub.js';
import type { CampaignLogEvent } from './topics.js';

/**
 * A campaign's log as a stream: the most recent entries first (oldest of them first), then every new
 * entry, each once. It listens before reading the recent entries; an entry that was both read and
 * announced is passed on once. Entries announced together are loaded in one query, so a busy
 * campaign costs one read per batch, not one per entry.
 */
export function campaignLogStream<L extends { id: bigint }>(opts: {
  tenantId: string;
  campaignId: string;
  /** Cheap filter on the event (severity, type) before anything is read. */
  accept: (event: CampaignLogEvent) => boolean;
  readRecent: () => Promise<L[]>;
  readByIds: (ids: bigint[]) => Promise<L[]>;
}): AsyncIterable<L> {
  return new Repeater<L>(async (push, stop) => {
    const engine = pubsubEngine();
    const queue: bigint[] = [];
    let wake: (() => void) | null = null;
    const subId = await engine.subscribe(channel('campaign:log', opts.tenantId, opts.campaignId), (event: CampaignLogEvent) => {
      if (event.tenantId !== opts.tenantId || event.campaignId !== opts.campaignId || !opts.accept(event)) return;
      for (const id of event.logIds) queue.push(BigInt(id));
      wake?.();
    });
    try {
      const seen = new Set<bigint>();
      for (const log of await opts.readRecent()) {
        seen.add(log.id);
        await push(log);
      }
      let stopped = false;
      void stop.then(() => {
        stopped = true;
        wake?.();
      });
      while (!stopped) {
        if (queue.length === 0) await new Promise<void>((r) => (wake = r));
        wake = null;
        // Each entry is announced once; only the recent entries already passed on can come twice.
        const ids = [...new Set(queue.splice(0))].filter((id) => !seen.has(id));
        if (ids.length === 0) continue;
        const logs = await opts.readByIds(ids);
        for (const log of logs.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) await push(log);
      }
    } catch (err) {
      stop(err);
    } finally {
      engine.unsubscribe(subId);
    }
  });
}
