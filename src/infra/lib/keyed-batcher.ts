/** What a flush says of one group it was given: done (with what its caller gets), or the error its caller gets. */
export type GroupResult<R = void> = { ok: true; value: R } | { ok: false; error: unknown };

/**
 * Group commit, per key: `add` hands a group of `size` items to be written; for each key one write
 * runs at a time, and the groups added while it runs are written together by the next one (up to
 * `maxItems` items, whole groups only). A caller's promise settles once its group's write has. Under light load
 * every group is written at once, on its own; under load the writes grow instead of queueing up
 * one behind the other for the same rows.
 *
 * `flush` gets the groups in the order they were added and returns a result for each (it should not
 * throw; if it does, every group of that write gets the error). Another key's writes run meanwhile.
 */
interface Waiting<G, R> {
  group: G;
  size: number;
  resolve(value: R): void;
  reject(err: unknown): void;
}

interface KeyState<G, R> {
  queue: Array<Waiting<G, R>>;
  running: boolean;
}

export class KeyedBatcher<G, R = void> {
  private readonly keys = new Map<string, KeyState<G, R>>();

  constructor(
    private readonly flush: (key: string, groups: G[]) => Promise<Array<GroupResult<R>>>,
    private readonly maxItems: number,
  ) {
    if (!Number.isInteger(maxItems) || maxItems < 1) throw new Error(`maxItems must be a positive integer, not ${maxItems}`);
  }

  /** Keys with a write running (for tests and shutdown). */
  get busyKeys(): number {
    return this.keys.size;
  }

  add(key: string, group: G, size: number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let state = this.keys.get(key);
      if (!state) {
        state = { queue: [], running: false };
        this.keys.set(key, state);
      }
      state.queue.push({ group, size, resolve, reject });
      if (!state.running) {
        state.running = true;
        void this.run(key, state);
      }
    });
  }

  private async run(key: string, state: KeyState<G, R>) {
    const { queue } = state;
    while (queue.length > 0) {
      const take = [queue.shift() as Waiting<G, R>];
      let n = take[0]?.size ?? 0;
      while (queue.length > 0 && n + (queue[0]?.size ?? 0) <= this.maxItems) {
        const next = queue.shift() as Waiting<G, R>;
        n += next.size;
        take.push(next);
      }
      let results: Array<GroupResult<R>>;
      try {
        results = await this.flush(key, take.map((g) => g.group));
      } catch (error) {
        results = take.map(() => ({ ok: false, error }));
      }
      take.forEach((g, i) => {
        const r = results[i];
        if (r?.ok) g.resolve(r.value);
        else g.reject(r ? r.error : new Error('the write gave no result for this group'));
      });
    }
    this.keys.delete(key);
  }
}
