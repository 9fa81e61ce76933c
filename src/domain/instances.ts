/**
 * Whether a sender instance may send, and at what limits. Pure: callers pass the instance row.
 */
export interface InstanceState {
  manuallyPaused: boolean;
  /** Why it was paused by hand (or by the send path on a 401/404). */
  pausedReason?: string | null;
  autoPausedAt: Date | null;
  connectionState: string;
  /** Not connected to WhatsApp since then (a send refused for it, or Evolution said close); until `open`. */
  disconnectedSince?: Date | null;
}

/**
 * Not connected to WhatsApp: a send was refused for it or Evolution reported the socket closed or
 * refused; only `open` ends it (src/features/senders/connection.ts). Sends would fail.
 */
export function isDisconnected(i: Pick<InstanceState, 'connectionState' | 'disconnectedSince'>): boolean {
  return (i.disconnectedSince ?? null) !== null || i.connectionState === 'CLOSE' || i.connectionState === 'REFUSED';
}

/** Paused by hand or by the health rules, or disconnected. UNKNOWN (never reported) counts as usable. */
export function usableForStart(i: InstanceState): boolean {
  return !i.manuallyPaused && !i.autoPausedAt && !isDisconnected(i);
}

export function unusableReason(i: InstanceState): string | null {
  if (i.manuallyPaused) return i.pausedReason ? `paused: ${i.pausedReason}` : 'paused by an operator';
  if (i.autoPausedAt) return 'paused by the health rules';
  if (isDisconnected(i)) return `disconnected (${i.connectionState.toLowerCase()})`;
  return null;
}

/**
 * Unusable only because it is disconnected: it comes back by itself when its number reconnects, so
 * a campaign left with only such instances waits (RUNNING, its recipients queued) instead of pausing.
 */
export function waitsForReconnect(i: InstanceState): boolean {
  return !i.manuallyPaused && !i.autoPausedAt && isDisconnected(i);
}

export interface LimitSettings {
  limitPerMinute: number;
  limitPerHour: number;
  limitPerDay: number;
  minDelayMs: number;
  maxDelayMs: number;
  warmupEnabled: boolean;
  warmupStartPerDay: number;
  warmupIncrementPerDay: number;
  warmupStartedAt: Date | null;
  readmittedAt: Date | null;
}

/** The instance columns `LimitSettings` reads: spread into a Prisma `select` of `whatsAppInstance`. */
export const LIMIT_SETTINGS_SELECT = {
  limitPerMinute: true,
  limitPerHour: true,
  limitPerDay: true,
  minDelayMs: true,
  maxDelayMs: true,
  warmupEnabled: true,
  warmupStartPerDay: true,
  warmupIncrementPerDay: true,
  warmupStartedAt: true,
  readmittedAt: true,
} as const satisfies Record<keyof LimitSettings, true>;

const DAY = 86_400_000;

/** Daily limit of a warming-up instance: start, then + increment per full day, capped by the limit. */
export function warmupDailyLimit(s: LimitSettings, now: Date): number {
  if (!s.warmupEnabled) return s.limitPerDay;
  const started = s.warmupStartedAt ?? now;
  const days = Math.max(0, Math.floor((now.getTime() - started.getTime()) / DAY));
  return Math.min(s.limitPerDay, s.warmupStartPerDay + days * s.warmupIncrementPerDay);
}

/**
 * Share of its limits a re-admitted instance may use: 25 % on the day it comes back, +25 % per day.
 * A number that was paused for poor health returns gradually, as WhatsApp would expect.
 */
export function readmissionFactor(s: Pick<LimitSettings, 'readmittedAt'>, now: Date): number {
  if (!s.readmittedAt) return 1;
  const days = Math.max(0, Math.floor((now.getTime() - s.readmittedAt.getTime()) / DAY));
  return Math.min(1, 0.25 * (days + 1));
}

export function effectiveLimits(s: LimitSettings, now: Date) {
  const factor = readmissionFactor(s, now);
  const scale = (n: number) => Math.max(1, Math.floor(n * factor));
  return {
    perMinute: scale(s.limitPerMinute),
    perHour: scale(s.limitPerHour),
    perDay: scale(warmupDailyLimit(s, now)),
    minDelayMs: s.minDelayMs,
    maxDelayMs: Math.max(s.minDelayMs, s.maxDelayMs),
  };
}

/**
 * The limiter's minute and hour are this much longer than a minute and an hour: a send reaches
 * Evolution (which is what WhatsApp counts) a little after our clock confirmed it (src/features/dispatch/limiter.ts).
 */
export const LIMIT_WINDOW_GUARD_MS = 1000;
