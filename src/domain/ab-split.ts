/**
 * The A/B split made when a campaign starts, deterministic by the recipient's dispatch order (seq):
 * - with a test share s (0 < s < 1), recipient seq is in the test when ⌊seq·s⌋ > ⌊(seq−1)·s⌋, which
 *   spreads the test group evenly over the audience (the first contacts are not favoured); its rank in
 *   the test group is k = ⌊seq·s⌋. Without a test share everyone is in the test, k = seq.
 * - the k-th test recipient gets the variant whose cumulative weight bucket holds the Weyl sequence
 *   u(k) = frac((k − 1)·φ⁻¹): low-discrepancy, so the variants interleave and every prefix of the
 *   audience is split in close to the configured proportions.
 * startCampaign computes the same in SQL (set-based); this module is the reference and the tests'.
 */
export const GOLDEN = 0.6180339887498949;

/** Lower bounds in [0, 1) of each variant's bucket, from weights in any unit (equal when all are missing). */
export function variantLowerBounds(weights: ReadonlyArray<number | null>): number[] {
  const w = weights.every((x) => x === null || x === undefined) ? weights.map(() => 1) : weights.map((x) => Math.max(0, x ?? 0));
  const total = w.reduce((a, b) => a + b, 0) || 1;
  const bounds: number[] = [];
  let acc = 0;
  for (const x of w) {
    bounds.push(acc / total);
    acc += x;
  }
  return bounds;
}

export function inTestGroup(seq: number, testShare: number): boolean {
  if (testShare <= 0) return true;
  return Math.floor(seq * testShare) > Math.floor((seq - 1) * testShare);
}

export function testRank(seq: number, testShare: number): number {
  return testShare <= 0 ? seq : Math.floor(seq * testShare);
}

/** 0-based index of the variant the k-th test recipient gets. */
export function variantIndex(k: number, lowerBounds: readonly number[]): number {
  const x = (k - 1) * GOLDEN;
  const u = x - Math.floor(x);
  let index = 0;
  for (let i = 0; i < lowerBounds.length; i++) if (u >= (lowerBounds[i] as number)) index = i;
  return index;
}

/** The variant (index) of recipient `seq`, or null for the hold-out that waits for the winner. */
export function abAssignment(seq: number, testShare: number, lowerBounds: readonly number[]): number | null {
  if (!inTestGroup(seq, testShare)) return null;
  return variantIndex(testRank(seq, testShare), lowerBounds);
}
