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

/** An instance is paused by the health rules when its score falls below the tenant's threshold. */
export function belowThreshold(score: number, threshold: number): boolean {
  return score < threshold;
}

/** The score of a resting (auto-paused) instance after `elapsedMs` at `perHour` points an hour. */
export function recoveredScore(score: number, perHour: number, elapsedMs: number): number {
  return clampHealth(score + (Math.max(0, perHour) * Math.max(0, elapsedMs)) / 3_600_000);
}

export interface RestingInstance {
  autoPausedAt: Date;
  healthScore: number;
  connectionState: string;
  manuallyPaused: boolean;
  disconnectedSince?: Date | null;
}

/**
 * Whether a resting instance may send again: its cool-down is over, its score is back at the
 * threshold, it is connected and no operator paused it. Its limits then ramp up gradually
 * (domain/instances.ts readmissionFactor).
 */
export function readmissionDue(i: RestingInstance, policy: { cooldownMinutes: number; threshold: number }, now: Date): boolean {
  if (i.manuallyPaused) return false;
  if (i.disconnectedSince || i.connectionState === 'CLOSE' || i.connectionState === 'REFUSED') return false;
  if (now.getTime() - i.autoPausedAt.getTime() < policy.cooldownMinutes * 60_000) return false;
  return i.healthScore >= policy.threshold;
}
