// Dispatch settings derived from others; no side effects (benchmarks import it before the config is set).

/**
 * Evolution calls in flight per worker process unless DISPATCH_CONCURRENCY says otherwise (docs/decisions.md 49):
 * each one's permit is held from its recipient's claim to the end of its call, so this also bounds claims.
 */
export const DEFAULT_DISPATCH_CONCURRENCY = 50;

/** Slots of one instance due at the same instant share a send job (claimed and recorded together), at most this many. */
export function slotsPerJob(concurrency: number) {
  return Math.min(concurrency, 25);
}

/**
 * One full job per send slot of a worker process (DISPATCH_CONCURRENCY jobs run at once): with less,
 * an instance allowed to send back to back empties its queue before the next pump refills it.
 */
export function defaultLookahead(concurrency: number) {
  return Math.min(10_000, concurrency * slotsPerJob(concurrency));
}
