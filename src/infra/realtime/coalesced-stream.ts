import { Repeater } from 'graphql-yoga';
import { config } from '../config/index.js';
import { pubsubEngine } from './pubsub.js';

/**
 * A stream for "it changed: read it again" topics (instance health): the current state at once, then
 * at most one re-read per `intervalMs` however many events arrive, and always one after the last
 * event, so a busy instance does not flood a dashboard and its final state is never missed.
 *
 * It listens before the first read, so a change between the read and the subscription is not lost.
 * `read` answering null (the subject is gone) ends the stream.
 */
export function coalescedStream<E, O>(
  channelName: string,
  read: () => Promise<O | null>,
  accept: (event: E) => boolean = () => true,
  intervalMs = config.progressIntervalMs,
): AsyncIterable<O> {
  return new Repeater<O>(async (push, stop) => {
    const engine = pubsubEngine();
    let dirty = false;
    let ready = false;
    let reading = false;
    let timer: NodeJS.Timeout | null = null;
    let lastAt = 0;

    const emit = async () => {
      lastAt = Date.now();
      const out = await read();
      if (out === null) {
        stop();
        return;
      }
      await push(out);
    };
    const run = async () => {
      timer = null;
      if (reading || !dirty) return;
      reading = true;
      dirty = false;
      try {
        await emit();
      } catch (err) {
        stop(err);
        return;
      } finally {
        reading = false;
      }
      schedule();
    };
    function schedule() {
      if (!ready || !dirty || timer || reading) return;
      timer = setTimeout(() => void run(), Math.max(0, intervalMs - (Date.now() - lastAt)));
    }

    const subId = await engine.subscribe(channelName, (event: E) => {
      if (!accept(event)) return;
      dirty = true;
      schedule();
    });
    try {
      await emit();
      ready = true;
      schedule();
      await stop;
    } finally {
      if (timer) clearTimeout(timer);
      engine.unsubscribe(subId);
    }
  });
}
