/**
 * What a crash, a hang and `close()` cut short: the timers of work still to come (receipts, webhook
 * retries), the answers being held, and the generation that work begun before a crash checks so that
 * it never completes.
 */
export class Lifecycle {
  /** Bumped by `crash()`: work begun before it never completes. */
  generation = 0;
  closed = false;
  /** While set, every Evolution route waits (a hung server: connections accepted, nothing answered). */
  private gate: { promise: Promise<void>; open: () => void } | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Held (hanging) answers, released on close. */
  private readonly holds = new Set<() => void>();
  /** Repeating work (a Baileys instance retrying its connection); not counted in `pending`. */
  private readonly intervals = new Set<NodeJS.Timeout>();

  /** Timers still to fire. */
  get pending(): number {
    return this.timers.size;
  }

  /** Runs `fn` in `ms` unless the simulator crashes or closes first. */
  later(ms: number, fn: () => void) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(t);
  }

  /**
   * Runs `fn` every `ms` until the returned stop is called or the simulator crashes or closes. The
   * timer never keeps the process alive.
   */
  every(ms: number, fn: () => void): () => void {
    const t = setInterval(() => {
      if (!this.closed) fn();
    }, Math.max(1, ms));
    t.unref();
    this.intervals.add(t);
    return () => {
      clearInterval(t);
      this.intervals.delete(t);
    };
  }

  /** Waits `ms`, or less when the simulator closes or crashes (which release every hold). */
  hold(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const holds = this.holds;
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        holds.delete(done);
        resolve();
      }
      holds.add(done);
    });
  }

  /** While the server is hung, a promise that resolves when it no longer is; otherwise null. */
  get hung(): Promise<void> | null {
    return this.gate?.promise ?? null;
  }

  /** A hung server: connections are accepted and nothing is answered until `unhang()`; then the held requests run. */
  hang(): void {
    if (this.gate) return;
    let open = () => undefined as void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    this.gate = { promise, open };
  }

  unhang(): void {
    const gate = this.gate;
    this.gate = null;
    gate?.open();
  }

  /** Cuts short everything in progress; held requests are let through (to find the generation changed). */
  crash(): void {
    this.generation++;
    this.cancelTimers();
    this.releaseHolds();
    this.gate?.open();
    this.gate = null;
  }

  close(): void {
    this.closed = true;
    this.releaseHolds();
    this.cancelTimers();
  }

  private cancelTimers() {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const t of this.intervals) clearInterval(t);
    this.intervals.clear();
  }

  private releaseHolds() {
    for (const release of this.holds) release();
    this.holds.clear();
  }
}
