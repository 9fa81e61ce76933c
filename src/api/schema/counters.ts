import { percentDone } from '../../features/campaigns/progress.js';
import {
  COUNTER_KEYS,
  COUNTERS,
  type CounterFields,
  type CounterKey,
  type CounterSpec,
  type Counts,
  FIGURE_KEYS,
  PROGRESS_RATE_KEYS,
  RATE_KEYS,
  type RateInputs,
  type RateKey,
  rateDescription,
  rateOf,
} from '../../domain/counters.js';
import { builder } from './builder.js';

// The GraphQL shapes of a campaign's counters and rates, their fields built from their one
// declaration (src/domain/counters.ts). Other types add counter and rate fields with the helpers.

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;
type Fields<Shape> = PothosSchemaTypes.ObjectFieldBuilder<Types, Shape>;

/** An Int field for each counter of `keys`, described where `descriptions` says. */
export function counterFields<Shape extends Counts<K>, K extends CounterKey>(
  t: Fields<Shape>,
  keys: readonly K[],
  descriptions: Partial<Record<CounterKey, string>> = {},
) {
  const field = (k: K) => {
    const description = descriptions[k];
    return t.int({ ...(description ? { description } : {}), resolve: (p) => p[k] });
  };
  return Object.fromEntries(keys.map((k) => [k, field(k)])) as Record<K, ReturnType<typeof field>>;
}

/** A nullable Float field for each rate of `keys`, computed from the parent's counters; described (`delivered / sent`) unless `describe` is false. */
export function rateFields<Shape extends Counts<RateInputs<R>>, R extends RateKey>(t: Fields<Shape>, keys: readonly R[], { describe = true } = {}) {
  const field = (k: R) => t.float({ nullable: true, ...(describe ? { description: rateDescription(k) } : {}), resolve: (p) => rateOf(k, p) });
  return Object.fromEntries(keys.map((k) => [k, field(k)])) as Record<R, ReturnType<typeof field>>;
}

/** The counters as the campaign's Prisma fields, for fields that need them (select mode). */
export const COUNTER_SELECT = Object.fromEntries(COUNTER_KEYS.map((k) => [COUNTERS[k].field, true])) as { [F in keyof CounterFields]: true };

const DECLARED_DESCRIPTIONS: Partial<Record<CounterKey, string>> = Object.fromEntries(
  COUNTER_KEYS.map((k) => [k, (COUNTERS[k] as CounterSpec).description]),
);

export const CountersRef = builder.objectRef<Counts>('CampaignCounters').implement({
  description: 'Counters kept in the same transaction as the recipient changes they count: always equal to a recount.',
  fields: (t) => ({
    ...counterFields(t, COUNTER_KEYS, DECLARED_DESCRIPTIONS),
    percentDone: t.float({ resolve: (c) => percentDone(c) }),
    ...rateFields(t, PROGRESS_RATE_KEYS),
  }),
});

export const FunnelRef = builder.objectRef<Counts>('AnalyticsFunnel').implement({
  description: "The campaign's funnel from its transactional counters (always equal to a recount of its recipients).",
  fields: (t) => counterFields(t, COUNTER_KEYS, { remaining: 'Queued, being sent, or held back for an A/B winner.' }),
});

export const FiguresRef = builder.objectRef<Counts<(typeof FIGURE_KEYS)[number]>>('AnalyticsFigures').implement({
  description: 'Recipients that reached each step (a step counts once its timestamp is set; failed counts the FAILED status), with the rates.',
  fields: (t) => ({ ...counterFields(t, FIGURE_KEYS), ...rateFields(t, RATE_KEYS) }),
});

export const RatesRef = builder.objectRef<Counts<RateInputs>>('AnalyticsRates').implement({
  description: 'Delivery = delivered / sent; read, reply, click and conversion = that step / delivered. Null when the denominator is 0.',
  fields: (t) => rateFields(t, RATE_KEYS, { describe: false }),
});
