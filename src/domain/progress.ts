/**
 * Figures derived from a campaign's counters for live progress: sending speed and the expected finish
 * (the rates are in src/domain/counters.ts). Plain functions, no I/O.
 */

export const RATE_WINDOW_MS = 60_000;

/**
 * Sends per minute over the last minute, from successive snapshots of the `sent` counter (each
 * snapshot's increase is counted at its time). Snapshots may arrive out of order: only increases of
 * the highest value seen count, so nothing is counted twice.
 */
export class SendRate {
  private readonly steps: Array<{ at: number; n: number }> = [];
  private highest: number | null = null;

  constructor(private readonly windowMs = RATE_WINDOW_MS) {}

  /** Sends already made before `at` (e.g. from the log of the last minute), counted at that time. */
  seed(at: number, n: number) {
    if (n > 0) this.steps.push({ at, n });
  }

  /** A snapshot of the counter at `at`. The first one only sets the baseline. */
  observe(at: number, sent: number) {
    if (this.highest !== null && sent > this.highest) this.steps.push({ at, n: sent - this.highest });
    this.highest = Math.max(this.highest ?? sent, sent);
  }

  perMinute(now: number): number {
    const from = now - this.windowMs;
    let n = 0;
    let keep = 0;
    for (const s of this.steps) {
      if (s.at <= from) continue;
      n += s.n;
      this.steps[keep++] = s;
    }
    this.steps.length = keep;
    return Math.round(((n * 60_000) / this.windowMs) * 100) / 100;
  }
}

/**
 * When the campaign should be done: when it completed, now when nothing remains, otherwise
 * `remaining` at the current speed from now (null while it is not sending or has no speed yet).
 */
export function expectedFinish(p: { status: string; remaining: number; completedAt: string | null }, perMinute: number, now: number): string | null {
  if (p.completedAt) return p.completedAt;
  if (p.status !== 'RUNNING') return null;
  if (p.remaining <= 0) return new Date(now).toISOString();
  if (perMinute <= 0) return null;
  return new Date(now + Math.ceil((p.remaining / perMinute) * 60_000)).toISOString();
}
