/**
 * Campaign settings that need more than a field's own type to be valid: sending window, pacing,
 * schedule, A/B test and follow-ups. Pure: returns the issues (with input paths) and the stored form.
 */
import type { FieldIssue } from './errors.js';

export const WEEKDAYS = ['MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY', 'SUNDAY'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export const weekdayNumber = (d: Weekday) => WEEKDAYS.indexOf(d) + 1;
export const weekdayName = (n: number): Weekday => WEEKDAYS[(n - 1 + 7) % 7] as Weekday;

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** "09:30" → 570; null for an invalid time. "24:00" means the end of the day. */
export function parseTime(s: string): number | null {
  if (s === '24:00') return 1440;
  const m = s.match(HHMM);
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
}

export function formatTime(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

type Path = Array<string | number>;

export interface WindowInput {
  startTime?: string | null;
  endTime?: string | null;
  weekdays?: Weekday[] | null;
  respectHolidays?: boolean | null;
  holidayCountry?: string | null;
  holidayRegion?: string | null;
  timezoneMode?: 'TENANT' | 'CONTACT' | null;
}

export interface WindowColumns {
  windowStartMinute: number | null;
  windowEndMinute: number | null;
  windowWeekdays: number[];
  respectHolidays: boolean;
  holidayCountry: string | null;
  holidayRegion: string | null;
  timezoneMode: 'TENANT' | 'CONTACT';
}

/** A window of business hours; start after end means overnight (e.g. 20:00–02:00). No times: all day. */
export function windowColumns(w: WindowInput | null | undefined, path: Path, issues: FieldIssue[]): WindowColumns {
  const start = w?.startTime ? parseTime(w.startTime) : null;
  const end = w?.endTime ? parseTime(w.endTime) : null;
  if (w?.startTime && start === null) issues.push({ path: [...path, 'startTime'], message: 'use HH:MM, 24-hour (e.g. 09:00)' });
  if (w?.endTime && end === null) issues.push({ path: [...path, 'endTime'], message: 'use HH:MM, 24-hour (e.g. 18:00)' });
  if ((w?.startTime && !w?.endTime) || (!w?.startTime && w?.endTime)) {
    issues.push({ path: [...path, w?.startTime ? 'endTime' : 'startTime'], message: 'give both startTime and endTime, or neither' });
  }
  if (start !== null && end !== null && start === end) issues.push({ path: [...path, 'endTime'], message: 'the window is empty: endTime equals startTime' });
  const weekdays = w?.weekdays ?? WEEKDAYS;
  if (weekdays.length === 0) issues.push({ path: [...path, 'weekdays'], message: 'allow at least one weekday' });
  if (w?.holidayCountry && !/^[A-Z]{2}$/.test(w.holidayCountry)) issues.push({ path: [...path, 'holidayCountry'], message: 'an ISO 3166 country code, e.g. BR' });
  if (w?.holidayRegion && !w.holidayCountry && !w.respectHolidays) {
    issues.push({ path: [...path, 'holidayRegion'], message: 'a region needs respectHolidays' });
  }
  return {
    windowStartMinute: start,
    windowEndMinute: end,
    windowWeekdays: [...new Set(weekdays.map(weekdayNumber))].sort(),
    respectHolidays: w?.respectHolidays ?? false,
    holidayCountry: w?.holidayCountry ?? null,
    holidayRegion: w?.holidayRegion ?? null,
    timezoneMode: w?.timezoneMode ?? 'TENANT',
  };
}

export interface PacingInput {
  minDelayMs?: number | null;
  maxDelayMs?: number | null;
  maxAttempts?: number | null;
  errorThreshold?: number | null;
  /** Caps over all the campaign's instances together, on top of each instance's own (null: none). */
  limitPerMinute?: number | null;
  limitPerHour?: number | null;
  limitPerDay?: number | null;
  typingDelayMs?: number | null;
}

const CAPS = ['limitPerMinute', 'limitPerHour', 'limitPerDay'] as const;

/** The longest typing presence a campaign may ask of Evolution per send (its HTTP call lasts that long). */
export const MAX_TYPING_DELAY_MS = 20_000;

export function pacingColumns(p: PacingInput | null | undefined, path: Path, issues: FieldIssue[]) {
  const min = p?.minDelayMs ?? null;
  const max = p?.maxDelayMs ?? null;
  if (min !== null && max !== null && max < min) issues.push({ path: [...path, 'maxDelayMs'], message: 'must be at least minDelayMs' });
  const caps = { limitPerMinute: p?.limitPerMinute ?? null, limitPerHour: p?.limitPerHour ?? null, limitPerDay: p?.limitPerDay ?? null };
  for (const k of CAPS) {
    const v = caps[k];
    if (v !== null && (!Number.isInteger(v) || v < 1)) issues.push({ path: [...path, k], message: 'a whole number of messages, at least 1 (or null for no cap)' });
  }
  // A larger cap under a smaller window's could never be reached: most likely a mistake.
  for (let i = 0; i < CAPS.length; i++) {
    for (let j = i + 1; j < CAPS.length; j++) {
      const small = caps[CAPS[i] as (typeof CAPS)[number]];
      const large = caps[CAPS[j] as (typeof CAPS)[number]];
      if (small !== null && large !== null && small > large) issues.push({ path: [...path, CAPS[i] as string], message: `cannot be more than ${CAPS[j]} (${large})` });
    }
  }
  const typing = p?.typingDelayMs ?? 0;
  if (!Number.isInteger(typing) || typing < 0 || typing > MAX_TYPING_DELAY_MS) {
    issues.push({ path: [...path, 'typingDelayMs'], message: `whole milliseconds from 0 (no typing presence) to ${MAX_TYPING_DELAY_MS}` });
  }
  return { minDelayMs: min, maxDelayMs: max, maxAttempts: p?.maxAttempts ?? 3, errorThreshold: p?.errorThreshold ?? 20, typingDelayMs: typing, ...caps };
}

/** Campaign priority 1–10 (10 highest; 5 when not given). */
export function priorityIssues(priority: number | null | undefined, path: Path, issues: FieldIssue[]) {
  if (priority !== null && priority !== undefined && (!Number.isInteger(priority) || priority < 1 || priority > 10)) {
    issues.push({ path, message: 'a whole number from 1 (lowest) to 10 (highest)' });
  }
}

/** What protects the campaign's contacts: its expiry and its frequency cap (else the tenant's). */
export interface SafetyInput {
  expireAfterMinutes?: number | null;
  frequencyCap?: { messages: number; periodHours: number } | null;
  frequencyCapExempt?: boolean | null;
}

export interface SafetyColumns {
  expireAfterMinutes: number | null;
  frequencyCapMessages: number | null;
  frequencyCapHours: number | null;
  frequencyCapExempt: boolean;
}

export function safetyColumns(s: SafetyInput | null | undefined, path: Path, issues: FieldIssue[]): SafetyColumns {
  const cap = s?.frequencyCap ?? null;
  if (cap && s?.frequencyCapExempt) issues.push({ path: [...path, 'frequencyCapExempt'], message: 'an exempt campaign has no frequency cap of its own: give one or the other' });
  return {
    expireAfterMinutes: s?.expireAfterMinutes ?? null,
    frequencyCapMessages: cap?.messages ?? null,
    frequencyCapHours: cap?.periodHours ?? null,
    frequencyCapExempt: s?.frequencyCapExempt ?? false,
  };
}

/** The stored safety settings as the input that would produce them. */
export function safetyInputOf(c: SafetyColumns): SafetyInput {
  return {
    expireAfterMinutes: c.expireAfterMinutes,
    frequencyCap: c.frequencyCapMessages !== null && c.frequencyCapHours !== null ? { messages: c.frequencyCapMessages, periodHours: c.frequencyCapHours } : null,
    frequencyCapExempt: c.frequencyCapExempt,
  };
}

export interface ScheduleInput {
  startAt?: Date | null;
  recurrence?: 'NONE' | 'DAILY' | 'WEEKLY' | 'MONTHLY' | null;
  interval?: number | null;
  endAfterOccurrences?: number | null;
  endAt?: Date | null;
}

export function scheduleColumns(s: ScheduleInput | null | undefined, path: Path, issues: FieldIssue[]) {
  const recurrence = s?.recurrence ?? 'NONE';
  if (recurrence !== 'NONE' && !s?.startAt) issues.push({ path: [...path, 'startAt'], message: 'a recurring campaign needs its first start' });
  if (recurrence === 'NONE' && (s?.endAfterOccurrences || s?.endAt)) {
    issues.push({ path: [...path, 'recurrence'], message: 'an end is only meaningful for a recurring campaign' });
  }
  if (s?.endAt && s.startAt && s.endAt <= s.startAt) issues.push({ path: [...path, 'endAt'], message: 'must be after startAt' });
  return {
    scheduledAt: s?.startAt ?? null,
    recurrence,
    recurrenceInterval: s?.interval ?? 1,
    recurrenceEndAfter: s?.endAfterOccurrences ?? null,
    recurrenceEndAt: s?.endAt ?? null,
  };
}

export interface AbVariantMessage {
  abVariant?: string | null;
  abWeight?: number | null;
}

export interface AbTestInput {
  enabled: boolean;
  testShare?: number | null;
  metric?: 'READ_RATE' | 'REPLY_RATE' | 'CLICK_RATE' | 'CONVERSION_RATE' | null;
  minSample?: number | null;
  significance?: number | null;
  autoWinner?: boolean | null;
}

/**
 * A/B settings and the variant label and weight of each message. With the test on, every message is
 * a variant (labels A, B, … by order unless given; weights equal unless all given, summing to 100).
 */
export function abColumns(
  ab: AbTestInput | null | undefined,
  messages: AbVariantMessage[],
  path: Path,
  messagesPath: Path,
  issues: FieldIssue[],
): { columns: Record<string, unknown>; variants: Array<{ abVariant: string | null; abWeight: number | null }> } {
  const enabled = ab?.enabled ?? false;
  const columns = {
    abEnabled: enabled,
    abTestShare: ab?.testShare ?? 0,
    abMetric: ab?.metric ?? 'READ_RATE',
    abMinSample: ab?.minSample ?? 100,
    abSignificance: ab?.significance ?? 0.95,
    abAutoWinner: ab?.autoWinner ?? true,
  };
  if (!enabled) return { columns, variants: messages.map(() => ({ abVariant: null, abWeight: null })) };
  if (messages.length < 2) issues.push({ path: messagesPath, message: 'an A/B test needs at least two variations' });
  const labels = messages.map((m, i) => m.abVariant ?? String.fromCharCode(65 + i));
  if (new Set(labels).size !== labels.length) issues.push({ path: messagesPath, message: 'each variation needs its own A/B variant label' });
  const given = messages.filter((m) => m.abWeight !== null && m.abWeight !== undefined).length;
  let weights: number[];
  if (given === 0) weights = messages.map(() => Math.round((100 / Math.max(1, messages.length)) * 100) / 100);
  else if (given !== messages.length) {
    issues.push({ path: messagesPath, message: 'give every variation an abWeight, or none (equal split)' });
    weights = messages.map((m) => m.abWeight ?? 0);
  } else {
    weights = messages.map((m) => m.abWeight as number);
    const sum = weights.reduce((a, b) => a + b, 0);
    if (Math.abs(sum - 100) > 0.01) issues.push({ path: messagesPath, message: `abWeight must sum to 100 (they sum to ${sum})` });
  }
  if (columns.abTestShare < 0 || columns.abTestShare >= 1) issues.push({ path: [...path, 'testShare'], message: 'a share between 0 (whole audience) and 1 (exclusive)' });
  if (columns.abMinSample < 10) issues.push({ path: [...path, 'minSample'], message: 'at least 10 recipients per variant' });
  if (columns.abSignificance <= 0.5 || columns.abSignificance >= 1) issues.push({ path: [...path, 'significance'], message: 'a confidence level such as 0.95' });
  return { columns, variants: labels.map((abVariant, i) => ({ abVariant, abWeight: weights[i] ?? null })) };
}

export interface FollowUpInput {
  afterDays: number;
  text: string;
}

export function followUpIssues(rules: FollowUpInput[], path: Path, issues: FieldIssue[]) {
  if (rules.length > 5) issues.push({ path, message: 'at most 5 follow-ups' });
  rules.forEach((r, i) => {
    if (r.afterDays < 1 || r.afterDays > 90) issues.push({ path: [...path, i, 'afterDays'], message: 'between 1 and 90 days' });
  });
}

/** `base` with every key of `patch` that was given (null clears, undefined keeps): field-by-field updates. */
export function overlay<T extends object>(base: T, patch: Partial<T> | null | undefined): T {
  if (!patch) return base;
  const out = { ...base } as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) if (v !== undefined) out[k] = v;
  return out as T;
}

/** The stored window as the input that would produce it (so an update can change one field of it). */
export function windowInputOf(c: WindowColumns): WindowInput {
  return {
    startTime: c.windowStartMinute === null ? null : formatTime(c.windowStartMinute),
    endTime: c.windowEndMinute === null ? null : formatTime(c.windowEndMinute),
    weekdays: c.windowWeekdays.map(weekdayName),
    respectHolidays: c.respectHolidays,
    holidayCountry: c.holidayCountry,
    holidayRegion: c.holidayRegion,
    timezoneMode: c.timezoneMode,
  };
}

export function scheduleInputOf(c: {
  scheduledAt: Date | null;
  recurrence: ScheduleInput['recurrence'];
  recurrenceInterval: number;
  recurrenceEndAfter: number | null;
  recurrenceEndAt: Date | null;
}): ScheduleInput {
  return {
    startAt: c.scheduledAt,
    recurrence: c.recurrence,
    interval: c.recurrenceInterval,
    endAfterOccurrences: c.recurrenceEndAfter,
    endAt: c.recurrenceEndAt,
  };
}
