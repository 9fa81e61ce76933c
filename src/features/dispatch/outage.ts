import { sqlRows } from '../../infra/db/sql.js';
import { Prisma } from '../../generated/prisma/client.js';

/** An outage that ended this long ago is over: the next failure starts a new one. */
const OUTAGE_GAP_S = 60;

/**
 * The instance's Evolution did not answer (connection refused or reset, no answer in time): no claim
 * for it until `until`, a wait that grows with the outage (half its length so far, 1 s to 30 s), so
 * a dead or hung server is asked a few times a minute instead of burning every send's attempts, and a
 * server that is back is used again within seconds. `started`: this failure began a new outage.
 */
export async function markUnreachable(instanceId: string): Promise<{ until: Date; started: boolean }> {
  const [row] = await sqlRows<{ until: Date; started: boolean }>(Prisma.sql`
    WITH cur AS (
      SELECT id, (unreachable_until IS NULL OR unreachable_until < now() - make_interval(secs => ${OUTAGE_GAP_S})) AS fresh, unreachable_since
      FROM whatsapp_instance WHERE id = ${instanceId}::uuid FOR UPDATE
    ), s AS (SELECT id, fresh, CASE WHEN fresh THEN now() ELSE unreachable_since END AS since FROM cur)
    UPDATE whatsapp_instance i SET unreachable_since = s.since,
      unreachable_until = now() + LEAST(interval '30 seconds', GREATEST(interval '1 second', (now() - s.since) / 2))
    FROM s WHERE i.id = s.id
    RETURNING i.unreachable_until AS until, s.fresh AS started`);
  return row ?? { until: new Date(Date.now() + 1000), started: false };
}
