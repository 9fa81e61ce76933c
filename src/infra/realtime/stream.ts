import { Repeater } from 'graphql-yoga';
import { pubsubEngine } from './pubsub.js';

/**
 * A subscription stream on one channel that cannot miss an event between "read the current state"
 * and "listen": it listens first (awaiting Redis's SUBSCRIBE), then emits `initial`, then every
 * event, until `isLast` says the stream is done.
 */
export function channelStream<E, O>(
  channelName: string,
  initial: () => Promise<O>,
  onEvent: (event: E) => Promise<O>,
  isLast: (out: O) => boolean,
): AsyncIterable<O> {
  return new Repeater<O>(async (push, stop) => {
    const engine = pubsubEngine();
    const queue: E[] = [];
    let wake: (() => void) | null = null;
    const subId = await engine.subscribe(channelName, (event: E) => {
      queue.push(event);
      wake?.();
    });
    try {
      const first = await initial();
      await push(first);
      if (isLast(first)) return stop();
      let stopped = false;
      void stop.then(() => {
        stopped = true;
        wake?.();
      });
      while (!stopped) {
        if (queue.length === 0) await new Promise<void>((r) => (wake = r));
        wake = null;
        const event = queue.shift();
        if (event === undefined) continue;
        const out = await onEvent(event);
        await push(out);
        if (isLast(out)) return stop();
      }
    } finally {
      engine.unsubscribe(subId);
    }
  });
}
