import type { RecipientStatus } from '../generated/prisma/enums.js';

/**
 * A campaign's counters and the rates between them, declared once: the progress event, the GraphQL
 * counter, funnel and figure types, the analytics and tenant totals and their SQL are all derived
 * from here. Pure, no I/O.
 *
 * Each counter is a column of `campaign`, kept in the same transaction as the recipient changes it
 * counts, so it always equals a recount of the campaign's recipients; how a recipient counts is
 * declared with it (`statuses`, else its step's timestamp `at` being set, else every recipient;
 * docs/decisions.md 4).
 */
export interface CounterSpec {
  /** The column of `campaign`. */
  readonly column: string;
  /** The same column in the Prisma client. */
  readonly field: string;
  /** The recipient's timestamp of the step (what time series count by). */
  readonly at?: string;
  /** The recipient statuses a recount counts (it takes precedence over `at`). */
  readonly statuses?: readonly RecipientStatus[];
  /** The column of `whatsapp_instance` counting the instance's own today (reset at the tenant's midnight). */
  readonly daily?: string;
  /** What it counts, where the API documents it. */
  readonly description?: string;
}

export const COUNTERS = {
  targeted: { column: 'targeted_count', field: 'targetedCount', description: 'Recipients frozen at start.' },
  sent: {
    column: 'sent_count',
    field: 'sentCount',
    at: 'sent_at',
    daily: 'sent_today',
    description: 'Accepted by WhatsApp (including those later reported failed).',
  },
  delivered: { column: 'delivered_count', field: 'deliveredCount', at: 'delivered_at', daily: 'delivered_today' },
  read: { column: 'read_count', field: 'readCount', at: 'read_at', daily: 'read_today' },
  replied: { column: 'replied_count', field: 'repliedCount', at: 'replied_at' },
  clicked: { column: 'clicked_count', field: 'clickedCount', at: 'clicked_at' },
  converted: { column: 'converted_count', field: 'convertedCount', at: 'converted_at' },
  failed: { column: 'failed_count', field: 'failedCount', at: 'failed_at', statuses: ['FAILED'], daily: 'failed_today' },
  skipped: { column: 'skipped_count', field: 'skippedCount', statuses: ['SKIPPED'] },
  unknown: {
    column: 'unknown_count',
    field: 'unknownCount',
    statuses: ['UNKNOWN'],
    description: 'Sends whose outcome is unknown (timeout or crash mid-call); never retried automatically.',
  },
  remaining: { column: 'remaining_count', field: 'remainingCount', statuses: ['PENDING', 'QUEUED', 'SENDING'], description: 'Still queued or being sent.' },
} as const satisfies Record<string, CounterSpec>;

export type CounterKey = keyof typeof COUNTERS;
type Spec<K extends CounterKey> = (typeof COUNTERS)[K];

/** Numbers under (some of) the counters' names. */
export type Counts<K extends CounterKey = CounterKey> = { [P in K]: number };
/** The counters as `campaign` columns (a raw SQL row) and as Prisma fields (a selected row). */
export type CounterColumns = { [K in CounterKey as Spec<K>['column']]: number };
export type CounterFields = { [K in CounterKey as Spec<K>['field']]: number };

export const COUNTER_KEYS = Object.keys(COUNTERS) as CounterKey[];

/** The steps that carry a time of their own: the events of a time series. */
export type StepKey = { [K in CounterKey]: Spec<K> extends { at: string } ? K : never }[CounterKey];
export const STEP_KEYS = COUNTER_KEYS.filter((k): k is StepKey => 'at' in COUNTERS[k]);

/** What an analytics figure recounts: every step a recipient reaches, and failure (not skipped, unknown or remaining). */
export const FIGURE_KEYS = ['targeted', 'sent', 'delivered', 'read', 'replied', 'clicked', 'converted', 'failed'] as const satisfies readonly CounterKey[];
export type FigureKey = (typeof FIGURE_KEYS)[number];

/** What a sum over campaigns gives (remaining is a campaign's own state, not a total). */
export const TOTAL_KEYS = COUNTER_KEYS.filter((k): k is Exclude<CounterKey, 'remaining'> => k !== 'remaining');
export type TotalKey = (typeof TOTAL_KEYS)[number];

/** The counters an instance also keeps for today. */
export type DailyKey = { [K in CounterKey]: Spec<K> extends { daily: string } ? K : never }[CounterKey];
export const DAILY_KEYS = COUNTER_KEYS.filter((k): k is DailyKey => 'daily' in COUNTERS[k]);

export function countsFromColumns(row: CounterColumns): Counts {
  return mapCounts((k) => row[COUNTERS[k].column]);
}

export function countsFromFields(row: CounterFields): Counts {
  return mapCounts((k) => row[COUNTERS[k].field]);
}

function mapCounts(value: (k: CounterKey) => number): Counts {
  return Object.fromEntries(COUNTER_KEYS.map((k) => [k, value(k)])) as Counts;
}

/**
 * Rates: delivery = delivered / sent; read, reply, click and conversion = that step / delivered
 * (docs/decisions.md 25).
 */
export const RATES = {
  deliveryRate: { of: 'delivered', per: 'sent' },
  readRate: { of: 'read', per: 'delivered' },
  replyRate: { of: 'replied', per: 'delivered' },
  clickRate: { of: 'clicked', per: 'delivered' },
  conversionRate: { of: 'converted', per: 'delivered' },
} as const satisfies Record<string, { of: CounterKey; per: CounterKey }>;

export type RateKey = keyof typeof RATES;
/** The counters a set of rates is computed from. */
export type RateInputs<R extends RateKey = RateKey> = (typeof RATES)[R]['of'] | (typeof RATES)[R]['per'];
export type Rates<R extends RateKey = RateKey> = { [P in R]: number | null };

export const RATE_KEYS = Object.keys(RATES) as RateKey[];
/** The rates shown with live progress and per instance. */
export const PROGRESS_RATE_KEYS = ['deliveryRate', 'readRate', 'replyRate'] as const satisfies readonly RateKey[];

/** numerator / denominator rounded to 4 decimals; null when there is nothing to divide by. */
export function rate(numerator: number, denominator: number): number | null {
  return denominator > 0 ? Math.round((numerator / denominator) * 10000) / 10000 : null;
}

export function rateOf<R extends RateKey>(key: R, c: Counts<RateInputs<R>>): number | null {
  const { of, per } = RATES[key] as { of: RateInputs<R>; per: RateInputs<R> };
  return rate(c[of], c[per]);
}

/** Every rate, or those of `keys`. */
export function ratesOf(c: Counts<RateInputs>): Rates;
export function ratesOf<R extends RateKey>(c: Counts<RateInputs<R>>, keys: readonly R[]): Rates<R>;
export function ratesOf(c: Counts<RateInputs>, keys: readonly RateKey[] = RATE_KEYS): Partial<Rates> {
  return Object.fromEntries(keys.map((k) => [k, rateOf(k, c)]));
}

/** `delivered / sent`: how the API describes a rate. */
export function rateDescription(key: RateKey): string {
  return `${RATES[key].of} / ${RATES[key].per}`;
}
