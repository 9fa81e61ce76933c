/**
 * Which instance sends the next messages of a campaign.
 * - ROUND_ROBIN: in turn, in a stable order.
 * - BALANCED: the instance least used today first.
 * - INTELLIGENT: in proportion to a weight from health score and today's delivery rate.
 * Callers pass only instances that can send; an instance that stops being usable simply drops out
 * and its share moves to the others.
 */
export type RotationMode = 'ROUND_ROBIN' | 'BALANCED' | 'INTELLIGENT';

export interface RotationCandidate {
  id: string;
  healthScore: number;
  sentToday: number;
  deliveredToday: number;
}

/** Delivery rate counts once an instance has sent this many messages today; before, it is presumed good. */
const MIN_SAMPLE = 20;

export function intelligentWeight(c: RotationCandidate): number {
  const deliveryRate = c.sentToday >= MIN_SAMPLE ? Math.min(1, c.deliveredToday / c.sentToday) : 1;
  return Math.max(1, Math.round(c.healthScore * (0.5 + 0.5 * deliveryRate)));
}

/**
 * `count` picks starting at `cursor`; returns the picks and the cursor to pass next time, so that
 * successive small batches continue the same sequence instead of restarting it.
 */
export function planRotation(
  mode: RotationMode,
  candidates: readonly RotationCandidate[],
  count: number,
  cursor: number,
): { picks: string[]; cursor: number } {
  if (candidates.length === 0 || count <= 0) return { picks: [], cursor };
  const ordered = [...candidates].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const picks: string[] = [];

  if (mode === 'ROUND_ROBIN') {
    for (let i = 0; i < count; i++) picks.push((ordered[(cursor + i) % ordered.length] as RotationCandidate).id);
    return { picks, cursor: (cursor + count) % ordered.length };
  }

  if (mode === 'BALANCED') {
    const load = new Map(ordered.map((c) => [c.id, c.sentToday]));
    for (let i = 0; i < count; i++) {
      let best = ordered[0] as RotationCandidate;
      for (const c of ordered) if ((load.get(c.id) ?? 0) < (load.get(best.id) ?? 0)) best = c;
      picks.push(best.id);
      load.set(best.id, (load.get(best.id) ?? 0) + 1);
    }
    return { picks, cursor: cursor + count };
  }

  // Smooth weighted round-robin (as in nginx): an even interleaving in proportion to the weights.
  const weights = ordered.map(intelligentWeight);
  const total = weights.reduce((a, b) => a + b, 0);
  const current = ordered.map(() => 0);
  const start = cursor % total;
  for (let step = 0; step < start + count; step++) {
    let best = 0;
    for (let i = 0; i < ordered.length; i++) {
      current[i] = (current[i] as number) + (weights[i] as number);
      if ((current[i] as number) > (current[best] as number)) best = i;
    }
    current[best] = (current[best] as number) - total;
    if (step >= start) picks.push((ordered[best] as RotationCandidate).id);
  }
  return { picks, cursor: (start + count) % total };
}
