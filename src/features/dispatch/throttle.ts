import { throttleWaitMs } from '../../domain/send-outcome.js';
import { inTransaction } from '../../infra/db/transaction.js';

/**
 * WhatsApp or a gateway answered one of the instance's sends with "too many" (nothing was sent): no
 * claim for the instance until `until` (the claim checks `throttled_until`), a wait that doubles with
 * each deferral since the instance's last accepted send (throttleWaitMs; `last_success_at`, set by every
 * accepted send, resets it, so the success path pays nothing). Answers to calls already in flight
 * while a deferral holds do not double it again; a longer Retry-After extends it. `started`: this
 * answer began a new deferral.
 */
export async function markThrottled(instanceId: string, retryAfterMs: number | null): Promise<{ until: Date; started: boolean; streak: number }> {
  return inTransaction(async (tx, after) => {
    const [row] = await tx.$queryRaw<Array<{ tenant_id: string; now: Date; until: Date | null; at: Date | null; streak: number; success: Date | null }>>`
      SELECT tenant_id, now() AS now, throttled_until AS until, throttled_at AS at, throttle_streak AS streak, last_success_at AS success
      FROM whatsapp_instance WHERE id = ${instanceId}::uuid FOR UPDATE`;
    if (!row) return { until: new Date(Date.now() + throttleWaitMs(1, retryAfterMs)), started: false, streak: 1 };
    const now = row.now.getTime();
    if (row.until && row.until.getTime() > now) {
      const until = new Date(Math.max(row.until.getTime(), now + Math.min(3_600_000, retryAfterMs ?? 0)));
      if (until > row.until) await tx.$executeRaw`UPDATE whatsapp_instance SET throttled_until = ${until} WHERE id = ${instanceId}::uuid`;
      return { until, started: false, streak: row.streak };
    }
    const fresh = row.at === null || (row.success !== null && row.success > row.at);
    const streak = fresh ? 1 : row.streak + 1;
    const until = new Date(now + throttleWaitMs(streak, retryAfterMs));
    await tx.$executeRaw`
      UPDATE whatsapp_instance SET throttled_at = ${row.now}, throttled_until = ${until}, throttle_streak = ${streak}, updated_at = now()
      WHERE id = ${instanceId}::uuid`;
    after.publish('instance:health', { tenantId: row.tenant_id, instanceId });
    return { until, started: true, streak };
  });
}
