/**
 * Instance health, from the seeds: delivered +0.5, read +1, failed −10, clamped to 0–100, starting at
 * 100. Excellent ≥ 90, good ≥ 70, warning ≥ 50, critical below.
 */
export const HEALTH_DELTA = { delivered: 0.5, read: 1, failed: -10 } as const;
export const HEALTH_MAX = 100;
export const HEALTH_MIN = 0;

export type HealthStatus = 'EXCELLENT' | 'GOOD' | 'WARNING' | 'CRITICAL';

export function healthStatus(score: number): HealthStatus {
  if (score >= 90) return 'EXCELLENT';
  if (score >= 70) return 'GOOD';
  if (score >= 50) return 'WARNING';
  return 'CRITICAL';
}

export function clampHealth(score: number): number {
  return Math.min(HEALTH_MAX, Math.max(HEALTH_MIN, score));
}

/** The score change of one applied receipt, whose events are some of delivered / read / failed. */
export function healthDelta(events: readonly string[]): number {
  let delta = 0;
  for (const e of events) if (e in HEALTH_DELTA) delta += HEALTH_DELTA[e as keyof typeof HEALTH_DELTA];
  return delta;
}

/** The score after a sequence of changes, each clamped as it is applied (as the database does). */
export function foldHealth(start: number, deltas: readonly number[]): number {
  return deltas.reduce((score, d) => clampHealth(score + d), start);
}
