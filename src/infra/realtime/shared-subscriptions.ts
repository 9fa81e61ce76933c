import type { ExecutionResult } from 'graphql';

/**
 * Subscriptions whose events are states ("the campaign's progress now"), run once per identical
 * operation instead of once per subscriber: 1,000 dashboards watching one campaign cost one stream,
 * one Redis handler and one GraphQL execution per event, and each subscriber gets the shared result.
 *
 * Only state streams may be shared: a late subscriber is handed the last state the stream produced
 * (the current one), which is exactly what a new subscription starts with. Event streams such as a
 * campaign's log lines are not shared. Operations share only within one tenant and role (the key).
 */
type Result = ExecutionResult;
type Source = AsyncIterable<Result> | Result;

function isAsyncIterable(value: unknown): value is AsyncIterable<Result> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

/**
 * One subscriber's view of a shared stream. It holds at most one pending state: a subscriber that
 * reads slower than states arrive gets the latest, never a growing backlog.
 */
class Subscriber implements AsyncIterableIterator<Result> {
  private pending: Result | null = null;
  private waiting: ((r: IteratorResult<Result>) => void) | null = null;
  private failed: ((err: unknown) => void) | null = null;
  private finished = false;
  private error: unknown = null;

  constructor(private readonly leave: (s: Subscriber) => void) {}

  deliver(result: Result) {
    if (this.finished) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      this.failed = null;
      resolve({ value: result, done: false });
    } else this.pending = result;
  }

  end(error: unknown = null) {
    if (this.finished) return;
    this.finished = true;
    this.error = error;
    if (this.waiting) {
      const resolve = this.waiting;
      const reject = this.failed;
      this.waiting = null;
      this.failed = null;
      if (error && reject) reject(error);
      else resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<Result>> {
    if (this.pending) {
      const value = this.pending;
      this.pending = null;
      return Promise.resolve({ value, done: false });
    }
    if (this.finished) return this.error ? Promise.reject(this.error) : Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failed = reject;
    });
  }

  return(): Promise<IteratorResult<Result>> {
    this.end();
    this.pending = null;
    this.leave(this);
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator]() {
    return this;
  }
}

/** How the first subscriber's start went: streaming, refused with a result, or failed. */
type Started = { kind: 'streaming' } | { kind: 'refused'; result: Result } | { kind: 'failed' };

interface Hub {
  subscribers: Set<Subscriber>;
  last: Result | null;
  source: AsyncIterator<Result> | null;
  /** The first subscriber's start, awaited by those who join before it is known. */
  ready: Promise<Started>;
}

const hubs = new Map<string, Hub>();

/** How many shared streams are open in this process (for tests and metrics). */
export function sharedStreamCount(): number {
  return hubs.size;
}

function close(key: string, hub: Hub) {
  if (hubs.get(key) === hub) hubs.delete(key);
  void hub.source?.return?.();
}

async function pump(key: string, hub: Hub, source: AsyncIterator<Result>) {
  try {
    for (;;) {
      const { value, done } = await source.next();
      if (done) break;
      hub.last = value;
      for (const s of hub.subscribers) s.deliver(value);
    }
    for (const s of hub.subscribers) s.end();
  } catch (err) {
    for (const s of hub.subscribers) s.end(err);
  } finally {
    if (hubs.get(key) === hub) hubs.delete(key);
  }
}

/**
 * Subscribes to the shared stream `key`, starting it with `start` when nobody watches it yet. When
 * `start` answers with a result instead of a stream (the operation was refused), that result is
 * returned as it is and nothing is shared.
 */
export async function subscribeShared(key: string, start: () => Source | Promise<Source>): Promise<Source> {
  const existing = hubs.get(key);
  if (existing) {
    const started = await existing.ready;
    // The same key means the same tenant, role, operation and arguments: the same refusal.
    if (started.kind === 'refused') return started.result;
    if (started.kind === 'streaming' && hubs.get(key) === existing) return join(key, existing);
    // It failed or ended meanwhile: start a stream of our own below.
  }
  let settle!: (started: Started) => void;
  const hub: Hub = { subscribers: new Set(), last: null, source: null, ready: new Promise((r) => (settle = r)) };
  hubs.set(key, hub);
  let source: Source;
  try {
    source = await start();
  } catch (err) {
    if (hubs.get(key) === hub) hubs.delete(key);
    settle({ kind: 'failed' });
    throw err;
  }
  if (!isAsyncIterable(source)) {
    if (hubs.get(key) === hub) hubs.delete(key);
    settle({ kind: 'refused', result: source });
    return source;
  }
  hub.source = source[Symbol.asyncIterator]();
  const first = join(key, hub);
  settle({ kind: 'streaming' });
  void pump(key, hub, hub.source);
  return first;
}

function join(key: string, hub: Hub): Subscriber {
  const s = new Subscriber((left) => {
    hub.subscribers.delete(left);
    if (hub.subscribers.size === 0) close(key, hub);
  });
  hub.subscribers.add(s);
  // A late subscriber starts from the current state, like a new subscription would.
  if (hub.last) s.deliver(hub.last);
  return s;
}
