/**
 * The per-process bound on Evolution calls in flight (`DISPATCH_CONCURRENCY`): a counting semaphore
 * whose permits are handed out first come, first served.
 *
 * A send job asks for as many permits as it has slots and is given what is free, so that it claims
 * and records its recipients together. When others' calls are finishing, the first waiter holds out
 * for several permits at once (up to half the capacity) rather than taking them one by one, but for
 * no longer than `patienceMs` after the first one came free: a slow call elsewhere costs a little
 * batching, never more than that moment of throughput.
 */
/** How many permits the first waiter holds out for at most: half the capacity (see SendPermits). */
export function gatherTarget(capacity: number): number {
  return Math.ceil(capacity / 2);
}

export class SendPermits {
  private free: number;
  private readonly waiting: Array<{ want: number; grant: (n: number) => void }> = [];
  private timer: NodeJS.Timeout | null = null;
  /** Since when the first waiter has seen some permits free, but fewer than it holds out for. */
  private partialSince: number | null = null;

  constructor(
    readonly capacity: number,
    private readonly patienceMs = 5,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`permit capacity must be a positive integer, not ${capacity}`);
    this.free = capacity;
  }

  /** Permits not handed out right now. */
  get available(): number {
    return this.free;
  }

  /** Resolves with between 1 and `want` (at most the capacity) permits; each must be given back by `release`. */
  acquire(want: number): Promise<number> {
    const n = Math.max(1, Math.min(Math.floor(want), this.capacity));
    return new Promise<number>((grant) => {
      this.waiting.push({ want: n, grant });
      this.drain();
    });
  }

  release(n: number): void {
    if (n <= 0) return;
    this.free += n;
    if (this.free > this.capacity) throw new Error(`released more permits than were handed out (${this.free} of ${this.capacity})`);
    this.drain();
  }

  /** Runs `fn` holding one permit. */
  async withOne<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire(1);
    try {
      return await fn();
    } finally {
      this.release(1);
    }
  }

  private drain() {
    const now = Date.now();
    for (;;) {
      const head = this.waiting[0];
      if (!head) return;
      if (this.free === 0) return;
      const enough = Math.min(head.want, gatherTarget(this.capacity));
      if (this.free < enough) {
        // Calls that started together end together: wait a moment for the rest of them.
        this.partialSince ??= now;
        const left = this.partialSince + this.patienceMs - now;
        if (left > 0) {
          this.timer ??= setTimeout(() => {
            this.timer = null;
            this.drain();
          }, left);
          return;
        }
      }
      this.partialSince = null;
      this.waiting.shift();
      const granted = Math.min(head.want, this.free);
      this.free -= granted;
      head.grant(granted);
    }
  }
}
