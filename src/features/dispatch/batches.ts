/** A rate-limit slot reserved on an instance for one send at `at` (epoch ms). */
export interface ReservedSlot {
  instanceId: string;
  slot: string;
  at: number;
}

/** The slots one send job uses: one instance, one instant. */
export interface SlotBatch {
  instanceId: string;
  at: number;
  slots: string[];
}

/**
 * Groups reserved slots into send jobs: slots of the same instance due at the same instant share a
 * job, at most `max` per job; every other slot gets its own. With a random gap between sends (any
 * realistic pacing) no two slots of an instance share an instant, so each job carries one slot; only
 * an instance allowed to send back to back gets several per job. Jobs come out in time order.
 */
export function batchSlots(slots: readonly ReservedSlot[], max: number): SlotBatch[] {
  const size = Math.max(1, Math.floor(max));
  const sorted = [...slots].sort((a, b) => a.at - b.at);
  const batches: SlotBatch[] = [];
  const open = new Map<string, SlotBatch>();
  for (const s of sorted) {
    const key = `${s.instanceId}@${s.at}`;
    let batch = open.get(key);
    if (!batch || batch.slots.length >= size) {
      batch = { instanceId: s.instanceId, at: s.at, slots: [] };
      open.set(key, batch);
      batches.push(batch);
    }
    batch.slots.push(s.slot);
  }
  return batches;
}
