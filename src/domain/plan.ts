/**
 * The pre-launch plan of a campaign: whether its audience fits its instances' limits, sending window
 * and holidays, when it is expected to finish, and how much goes out each day. Pure: a minute-by-
 * minute simulation over the open periods of the window in each recipient zone, at the pace the
 * usable instances allow (per-minute limit or the average random delay, whichever is slower, hourly
 * and daily limits with warm-up and re-admission applied day by day).
 */
import { DateTime } from 'luxon';
import { healthStatus } from './health.js';
import { effectiveLimits, type LimitSettings } from './instances.js';
import { openSpans, type Span, type WindowRules, zoneOr } from './window.js';

export interface PlanInstance extends LimitSettings {
  id: string;
  name: string;
  /** Why it cannot send (paused, disconnected), or null. */
  unusable: string | null;
  healthScore: number;
  autoPaused: boolean;
  warmupEnabled: boolean;
  /** Already sent today (counts against today's limit). */
  sentToday: number;
}

export interface PlanInput {
  start: Date;
  /** Recipients still to send, by the zone their window is evaluated in. */
  audience: ReadonlyArray<{ zone: string; count: number }>;
  window: WindowRules;
  /** Per-day volumes and daily limits follow the tenant's calendar day. */
  tenantZone: string;
  instances: readonly PlanInstance[];
  /** The campaign's own random delay between sends (it can only slow an instance down). */
  campaignDelay: { minDelayMs: number | null; maxDelayMs: number | null };
  /** The audience must be sent before this (the next occurrence of a recurring campaign). */
  deadline?: Date | null;
  /** When the campaign expires: a recipient not sent by then is skipped (EXPIRED). */
  expiresAt?: Date | null;
  /**
   * Recipients whose contact is at its frequency cap now: `deferred` wait until it frees (at the latest
   * `freesBy`), `skipped` would free only after the expiry (FREQUENCY_CAP).
   */
  frequencyCap?: { deferred: number; skipped: number; freesBy: Date | null } | null;
  horizonDays?: number;
}

export interface PlanResult {
  audience: number;
  startsAt: Date;
  expectedFinish: Date | null;
  fits: boolean;
  /** Calendar days (tenant's) with sends. */
  days: number;
  perDay: Array<{ date: string; volume: number }>;
  /** What the usable instances can send on a full open day at today's limits. */
  dailyCapacity: number;
  instances: Array<{
    id: string;
    name: string;
    usable: boolean;
    reason: string | null;
    healthScore: number;
    perMinute: number;
    perHour: number;
    perDay: number;
  }>;
  /** When the campaign expires (null: never); recipients not sent by then are skipped. */
  expiresAt: Date | null;
  /** Recipients whose contact is at its frequency cap now (deferred until it frees, or skipped if that is after the expiry). */
  frequencyCapped: number;
  /**
   * Contacts outside the 24-hour service window of the campaign's WHATSAPP_BUSINESS numbers now (they
   * wrote to none of them in the last 24 hours): they get the campaign's template variation instead of
   * free text, or are skipped when it has none. Null when no free text goes through such a number.
   */
  serviceWindow: { outside: number; template: string | null } | null;
  warnings: string[];
}

const MINUTE = 60_000;
const HOUR = 3_600_000;

/** Sends per minute an instance sustains: its per-minute limit or its average delay, whichever is slower. */
function minuteRate(perMinute: number, minDelayMs: number, maxDelayMs: number): number {
  const gap = (minDelayMs + Math.max(minDelayMs, maxDelayMs)) / 2;
  return gap > 0 ? Math.min(perMinute, MINUTE / gap) : perMinute;
}

export function planCampaign(input: PlanInput): PlanResult {
  const horizonDays = input.horizonDays ?? 60;
  const start = input.start.getTime();
  const end = start + horizonDays * 86_400_000;
  const total = input.audience.reduce((a, z) => a + z.count, 0);
  const warnings: string[] = [];

  const usable = input.instances.filter((i) => i.unusable === null);
  const delay = (i: PlanInstance) => {
    const l = effectiveLimits(i, input.start);
    return {
      min: Math.max(l.minDelayMs, input.campaignDelay.minDelayMs ?? 0),
      max: Math.max(l.maxDelayMs, input.campaignDelay.maxDelayMs ?? 0, input.campaignDelay.minDelayMs ?? 0),
    };
  };
  const instances = input.instances.map((i) => {
    const l = effectiveLimits(i, input.start);
    return { id: i.id, name: i.name, usable: i.unusable === null, reason: i.unusable, healthScore: i.healthScore, perMinute: l.perMinute, perHour: l.perHour, perDay: l.perDay };
  });
  const dailyCapacity = usable.reduce((a, i) => {
    const l = effectiveLimits(i, input.start);
    const d = delay(i);
    return a + Math.min(l.perDay, l.perHour * 24, Math.floor(minuteRate(l.perMinute, d.min, d.max) * 1440));
  }, 0);

  // Warnings about the senders.
  const unusableList = input.instances.filter((i) => i.unusable !== null);
  if (unusableList.length) {
    warnings.push(
      `${unusableList.length} of ${input.instances.length} instances cannot send: ${unusableList.map((i) => `${i.name} (${i.unusable})`).join(', ')}`,
    );
  }
  const unhealthy = input.instances.filter((i) => i.autoPaused || ['WARNING', 'CRITICAL'].includes(healthStatus(i.healthScore)));
  if (unhealthy.length) warnings.push(`${unhealthy.length} of ${input.instances.length} instances are unhealthy: ${unhealthy.map((i) => `${i.name} (health ${Math.round(i.healthScore)})`).join(', ')}`);
  for (const i of usable) {
    if (!i.warmupEnabled) continue;
    const today = effectiveLimits(i, input.start).perDay;
    if (today < i.limitPerDay) warnings.push(`${i.name} is warming up: ${today} messages today, growing by ${i.warmupIncrementPerDay} a day up to ${i.limitPerDay}`);
  }
  if (total === 0) warnings.push('the audience is empty: nothing to send');
  if (usable.length === 0 && total > 0) warnings.push('no instance can send: the campaign cannot run');

  // Open periods per zone, and the tenant's midnights (for daily limits and volumes).
  const zones = input.audience
    .filter((z) => z.count > 0)
    .map((z) => ({ remaining: z.count, spans: openSpans(input.window, input.start, new Date(end), zoneOr(z.zone, input.tenantZone)), k: 0 }));
  if (total > 0 && zones.every((z) => z.spans.length === 0)) warnings.push(`the sending window does not open in the next ${horizonDays} days`);
  const midnights: number[] = [];
  for (let d = DateTime.fromMillis(start, { zone: input.tenantZone }).startOf('day'); d.toMillis() <= end; d = d.plus({ days: 1 })) {
    midnights.push(d.plus({ days: 1 }).startOf('day').toMillis());
  }
  const dayOf = (t: number) => {
    let k = 0;
    while (k < midnights.length - 1 && t >= (midnights[k] as number)) k++;
    return k;
  };

  const state = usable.map((i) => ({ i, day: -1, sentDay: 0, hour: -1, sentHour: 0, credit: 0, perDay: 0, perHour: 0, rate: 0 }));
  const perDay = new Map<number, number>();
  let remaining = total;
  let finish: number | null = null;
  let t = start;
  while (remaining > 0 && t < end && state.length > 0) {
    // Zones open now, or a jump to the next opening.
    let next = Number.POSITIVE_INFINITY;
    const open: typeof zones = [];
    for (const z of zones) {
      if (z.remaining <= 0) continue;
      while (z.k < z.spans.length && (z.spans[z.k] as Span).end <= t) z.k++;
      const s = z.spans[z.k];
      if (!s) continue;
      if (s.start <= t) open.push(z);
      else next = Math.min(next, s.start);
    }
    if (open.length === 0) {
      if (!Number.isFinite(next)) break;
      t = next;
      continue;
    }
    const day = dayOf(t);
    const hour = Math.floor((t - start) / HOUR);
    let capacity = 0;
    for (const s of state) {
      if (s.day !== day) {
        const l = effectiveLimits(s.i, new Date(t));
        const d = delay(s.i);
        s.day = day;
        s.perDay = Math.max(0, l.perDay - (day === 0 ? s.i.sentToday : 0));
        s.perHour = l.perHour;
        s.rate = minuteRate(l.perMinute, d.min, d.max);
        s.sentDay = 0;
      }
      if (s.hour !== hour) {
        s.hour = hour;
        s.sentHour = 0;
      }
      s.credit = Math.min(s.credit + s.rate, Math.max(1, s.rate));
      const can = Math.max(0, Math.min(Math.floor(s.credit), s.perDay - s.sentDay, s.perHour - s.sentHour));
      s.credit -= can;
      s.sentDay += can;
      s.sentHour += can;
      capacity += can;
    }
    let sent = 0;
    for (const z of open) {
      const n = Math.min(z.remaining, capacity - sent);
      z.remaining -= n;
      sent += n;
    }
    // Unused capacity goes back (the instances did not send it).
    if (sent < capacity) {
      let back = capacity - sent;
      for (const s of state) {
        const r = Math.min(back, s.sentHour, s.sentDay);
        s.sentDay -= r;
        s.sentHour -= r;
        back -= r;
      }
    }
    if (sent > 0) perDay.set(day, (perDay.get(day) ?? 0) + sent);
    remaining -= sent;
    if (remaining === 0) finish = t + MINUTE;
    t += MINUTE;
  }

  const days = [...perDay.keys()].sort((a, b) => a - b);
  const perDayList = days.map((d) => ({
    date: DateTime.fromMillis((midnights[d] as number) - 1, { zone: input.tenantZone }).toISODate() as string,
    volume: perDay.get(d) as number,
  }));

  // Holidays that close the window on days the weekdays allow.
  const holidays: string[] = [];
  const lastDay = finish ?? end;
  for (let d = DateTime.fromMillis(start, { zone: input.tenantZone }).startOf('day'); d.toMillis() < lastDay && holidays.length < 10; d = d.plus({ days: 1 })) {
    const date = d.toISODate() as string;
    if (input.window.weekdays.includes(d.weekday) && input.window.isHoliday(date)) holidays.push(date);
  }
  if (holidays.length) warnings.push(`no sending on holidays: ${holidays.join(', ')}`);

  const finished = total === 0 || finish !== null;
  if (total > 0 && usable.length > 0 && !finished) warnings.push(`the audience does not fit in ${horizonDays} days at these limits and window (${total - remaining} of ${total} sent by then)`);
  if (perDayList.length > 1) warnings.push(`sending spans ${perDayList.length} days at the instances' limits and window`);
  const late = finish !== null && input.deadline ? finish > input.deadline.getTime() : false;
  if (late) warnings.push(`the campaign would still be sending when its next occurrence starts (${input.deadline?.toISOString()})`);

  const cap = input.frequencyCap;
  if (cap && cap.deferred > 0) {
    warnings.push(
      `${cap.deferred} recipients' contacts are at the frequency cap: they are sent once it frees${cap.freesBy ? ` (by ${cap.freesBy.toISOString()})` : ''}, later than planned here`,
    );
  }
  if (cap && cap.skipped > 0) warnings.push(`${cap.skipped} recipients' contacts are at the frequency cap until after the campaign expires: they will be skipped (FREQUENCY_CAP)`);
  const expires = input.expiresAt ?? null;
  const expiresFirst = expires !== null && total > 0 && (finish === null || finish > expires.getTime());
  if (expiresFirst) warnings.push(`the campaign expires at ${expires.toISOString()} before it can send everyone: recipients not sent by then are skipped (EXPIRED)`);
  return {
    audience: total,
    startsAt: input.start,
    expectedFinish: total === 0 ? input.start : finish === null ? null : new Date(finish),
    expiresAt: expires,
    frequencyCapped: (cap?.deferred ?? 0) + (cap?.skipped ?? 0),
    serviceWindow: null,
    fits: finished && !late && !expiresFirst && (total === 0 || usable.length > 0),
    days: perDayList.length,
    perDay: perDayList,
    dailyCapacity,
    instances,
    warnings,
  };
}
