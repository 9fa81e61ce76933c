/**
 * A/B test statistics: the two-proportion z-test and the decision rule. Pure functions, no I/O.
 *
 * A variant's sample is its delivered messages (the trials) and the successes are those delivered
 * messages that were read, replied to, clicked or converted, depending on the test's metric. The
 * leader (highest rate) wins when it beats every other variant with a two-sided two-proportion
 * z-test at the configured confidence, and only once every variant has the minimum sample.
 */

export const AB_METRICS = ['READ_RATE', 'REPLY_RATE', 'CLICK_RATE', 'CONVERSION_RATE'] as const;
export type AbMetric = (typeof AB_METRICS)[number];

export interface VariantSample {
  variant: string;
  /** Delivered messages of the variant. */
  trials: number;
  /** Delivered messages that reached the metric's event. */
  successes: number;
}

export interface ZTest {
  z: number;
  /** Two-sided p-value. */
  pValue: number;
  /** 1 − pValue: how sure we are that the two rates differ. */
  confidence: number;
}

/**
 * erfc with a fractional error below 1.2e-7 everywhere (Numerical Recipes' Chebyshev fit); enough
 * for confidences reported to a tenth of a percent.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Standard normal cumulative distribution. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

export function rateOf(s: Pick<VariantSample, 'trials' | 'successes'>): number {
  return s.trials > 0 ? s.successes / s.trials : 0;
}

/**
 * Two-proportion z-test with the pooled standard error. Identical proportions (including 0 % vs 0 %
 * or 100 % vs 100 %, where the error is zero) give z = 0 and no confidence.
 */
export function twoProportionZTest(a: Pick<VariantSample, 'trials' | 'successes'>, b: Pick<VariantSample, 'trials' | 'successes'>): ZTest {
  if (a.trials <= 0 || b.trials <= 0) return { z: 0, pValue: 1, confidence: 0 };
  const p1 = a.successes / a.trials;
  const p2 = b.successes / b.trials;
  const pooled = (a.successes + b.successes) / (a.trials + b.trials);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / a.trials + 1 / b.trials));
  if (se === 0 || p1 === p2) return { z: 0, pValue: 1, confidence: 0 };
  const z = (p1 - p2) / se;
  const pValue = Math.min(1, Math.max(0, erfc(Math.abs(z) / Math.SQRT2)));
  return { z, pValue, confidence: 1 - pValue };
}

export interface AbRules {
  /** Delivered messages every variant needs before a winner may be declared. */
  minSample: number;
  /** Confidence required, e.g. 0.95. */
  significance: number;
}

export type AbDecision =
  | { status: 'NOT_ENOUGH_VARIANTS'; reason: string }
  | { status: 'COLLECTING'; reason: string; short: Array<{ variant: string; trials: number; needed: number }> }
  | { status: 'NOT_SIGNIFICANT'; reason: string; leader: string | null; confidence: number }
  | { status: 'WINNER'; winner: string; confidence: number; reason: string };

function pct(x: number, digits = 1) {
  return `${(x * 100).toFixed(digits)}%`;
}

/**
 * The decision for the variants' current figures. With more than two variants the leader must beat
 * each of the others; the reported confidence is the weakest of those comparisons.
 */
export function decideAbTest(samples: readonly VariantSample[], rules: AbRules): AbDecision {
  if (samples.length < 2) return { status: 'NOT_ENOUGH_VARIANTS', reason: 'an A/B test needs at least two variants with recipients' };
  const short = samples
    .filter((s) => s.trials < rules.minSample)
    .map((s) => ({ variant: s.variant, trials: s.trials, needed: rules.minSample }));
  if (short.length > 0) {
    const list = short.map((s) => `${s.variant} has ${s.trials}`).join(', ');
    return {
      status: 'COLLECTING',
      short,
      reason: `waiting for the minimum sample of ${rules.minSample} delivered messages per variant (${list})`,
    };
  }
  const ranked = [...samples].sort((x, y) => rateOf(y) - rateOf(x) || x.variant.localeCompare(y.variant));
  const leader = ranked[0] as VariantSample;
  const runnerUp = ranked[1] as VariantSample;
  if (rateOf(leader) === rateOf(runnerUp)) {
    return {
      status: 'NOT_SIGNIFICANT',
      leader: null,
      confidence: 0,
      reason: `${leader.variant} and ${runnerUp.variant} are tied at ${pct(rateOf(leader))}`,
    };
  }
  const confidence = Math.min(...ranked.slice(1).map((other) => twoProportionZTest(leader, other).confidence));
  if (confidence >= rules.significance) {
    return {
      status: 'WINNER',
      winner: leader.variant,
      confidence,
      reason: `${leader.variant} (${pct(rateOf(leader))}) beats ${ranked
        .slice(1)
        .map((o) => `${o.variant} (${pct(rateOf(o))})`)
        .join(', ')} at ${pct(confidence)} confidence`,
    };
  }
  return {
    status: 'NOT_SIGNIFICANT',
    leader: leader.variant,
    confidence,
    reason: `${leader.variant} leads with ${pct(rateOf(leader))} against ${runnerUp.variant}'s ${pct(rateOf(runnerUp))}, but only at ${pct(
      confidence,
    )} confidence (${pct(rules.significance, 0)} required)`,
  };
}

/** The successes that count for `metric` among a variant's delivered messages. */
export function successesFor(
  metric: AbMetric,
  f: { readDelivered: number; repliedDelivered: number; clickedDelivered: number; convertedDelivered: number },
): number {
  switch (metric) {
    case 'READ_RATE':
      return f.readDelivered;
    case 'REPLY_RATE':
      return f.repliedDelivered;
    case 'CLICK_RATE':
      return f.clickedDelivered;
    case 'CONVERSION_RATE':
      return f.convertedDelivered;
  }
}
