import { appendLog } from '../campaigns/logs.js';
import type { Tx } from '../../infra/db/client.js';
import { type AfterCommit, inTransaction } from '../../infra/db/transaction.js';
import type { ConnectionState } from '../../generated/prisma/client.js';
import { clock } from '../../infra/lib/clock.js';
import type { Logger } from '../../infra/lib/logger.js';
import { prisma } from '../../infra/db/client.js';
import { publish } from '../../infra/realtime/pubsub.js';
import { sendInstance } from '../dispatch/context.js';

// The owner of an instance's disconnection (`disconnected_since`, `disconnect_check_at`): a number
// that is not connected to WhatsApp is paused (the claims refuse it) until Evolution says `open`,
// through a `connection.update` webhook or the polled check below. `connecting`, which Evolution
// posts about twice a second while it retries without network, never re-admits it.

/** Evolution's socket states (connectionState, connection.update) as stored. */
export const CONNECTION_STATE: Record<string, ConnectionState> = { open: 'OPEN', connecting: 'CONNECTING', close: 'CLOSE', refused: 'REFUSED' };

/** The polled check asks after this long at first, then after as long as the disconnection has lasted, up to the max. */
export const DISCONNECT_CHECK_MIN_MS = 5000;
export const DISCONNECT_CHECK_MAX_MS = 300_000;

/** The wait before the next check of an instance disconnected for `elapsedMs`: 5 s, then doubling, up to 5 min. */
export function disconnectCheckDelayMs(elapsedMs: number): number {
  return Math.min(DISCONNECT_CHECK_MAX_MS, Math.max(DISCONNECT_CHECK_MIN_MS, elapsedMs));
}

/** Pause and resume entries of this cause (and of the cause the connection webhook used before, 'connection'). */
const CAUSES = ['disconnected', 'connection'];

/** Running campaigns that use the instance, and whether their last disconnection entry for it says paused. */
async function runningCampaigns(tx: Tx, instanceId: string) {
  return tx.$queryRaw<Array<{ id: string; paused: boolean }>>`
    SELECT c.id, COALESCE((
      SELECT l.type = 'INSTANCE_PAUSED' FROM campaign_log l
      WHERE l.campaign_id = c.id AND l.instance_id = ${instanceId}::uuid
        AND l.type IN ('INSTANCE_PAUSED', 'INSTANCE_RESUMED') AND l.details->>'cause' = ANY(${CAUSES}::text[])
      ORDER BY l.id DESC LIMIT 1), false) AS paused
    FROM campaign c JOIN campaign_instance ci ON ci.campaign_id = c.id
    WHERE ci.instance_id = ${instanceId}::uuid AND c.status = 'RUNNING'
    ORDER BY c.id`;
}

export interface Disconnection {
  tenantId: string;
  instanceId: string;
  /** Evolution's state when known (connectionState or the webhook); null leaves the stored one. */
  state: ConnectionState | null;
  /** What said so, for the log (an error body, a webhook). */
  reason: string;
  statusReason?: number | null;
  actor: 'worker' | 'webhook' | 'system' | 'api';
  /** When Evolution said it (a webhook's receipt time); now by default. */
  at?: Date;
  /** Extra fields for the campaign log entries (the send that met it). */
  log?: { recipientId?: string; contactId?: string; httpStatus?: number | null; durationMs?: number };
}

/**
 * Marks the instance disconnected (idempotent): no claim until it connects again, its state recorded,
 * its first polled check in 5 s, and one INSTANCE_PAUSED entry (cause 'disconnected') in each running
 * campaign that uses it and has none since its last resume. Returns those campaigns (to pump: their
 * share moves to their other instances) and whether this began the disconnection.
 */
export async function markDisconnected(d: Disconnection): Promise<{ started: boolean; campaigns: string[] }> {
  return inTransaction((tx, after) => markDisconnectedIn(tx, after, d));
}

async function markDisconnectedIn(tx: Tx, after: AfterCommit, d: Disconnection): Promise<{ started: boolean; campaigns: string[] }> {
  const at = d.at ?? clock.now();
  const [row] = await tx.$queryRaw<Array<{ started: boolean; changed: boolean; name: string; since: Date }>>`
    WITH old AS (SELECT id, disconnected_since, connection_state FROM whatsapp_instance WHERE id = ${d.instanceId}::uuid FOR UPDATE)
    UPDATE whatsapp_instance i SET
      disconnected_since = COALESCE(old.disconnected_since, now()),
      disconnect_check_at = CASE WHEN old.disconnected_since IS NULL THEN now() + make_interval(secs => ${DISCONNECT_CHECK_MIN_MS / 1000}) ELSE i.disconnect_check_at END,
      connection_state = COALESCE(${d.state}::"ConnectionState", i.connection_state),
      connection_state_at = CASE WHEN ${d.state}::"ConnectionState" IS NULL THEN i.connection_state_at ELSE ${at} END,
      updated_at = now()
    FROM old WHERE i.id = old.id
    RETURNING old.disconnected_since IS NULL AS started, old.connection_state IS DISTINCT FROM i.connection_state AS changed, i.name,
      i.disconnected_since AS since`;
  if (!row) return { started: false, campaigns: [] };
  if (row.started || row.changed) after.publish('instance:health', { tenantId: d.tenantId, instanceId: d.instanceId });
  const paused: string[] = [];
  for (const c of await runningCampaigns(tx, d.instanceId)) {
    if (c.paused) continue;
    paused.push(c.id);
    await appendLog(tx, after, {
      tenantId: d.tenantId,
      campaignId: c.id,
      instanceId: d.instanceId,
      recipientId: d.log?.recipientId,
      contactId: d.log?.contactId,
      httpStatus: d.log?.httpStatus ?? undefined,
      durationMs: d.log?.durationMs,
      type: 'INSTANCE_PAUSED',
      severity: 'WARNING',
      message: `instance ${row.name} is not connected to WhatsApp (${d.reason}): paused until it connects again; its share moves to the other instances, its recipients wait (none fails)`,
      response: { message: d.reason },
      details: {
        cause: 'disconnected',
        state: d.state,
        statusReason: d.statusReason ?? null,
        disconnectedSince: row.since.toISOString(),
      },
      actor: d.actor,
    });
  }
  return { started: row.started, campaigns: paused };
}

export interface Connection {
  tenantId: string;
  instanceId: string;
  actor: 'worker' | 'webhook' | 'system' | 'api';
  /** What said so, for the log. */
  how: string;
  at?: Date;
}

/**
 * Evolution says the instance is `open`: its disconnection ends (if any), OPEN is recorded, each
 * running campaign whose last disconnection entry for it says paused gets INSTANCE_RESUMED. Returns
 * the running campaigns that use it when it was disconnected or not known open (to pump), else none.
 */
export async function markConnected(c: Connection): Promise<{ readmitted: boolean; campaigns: string[] }> {
  return inTransaction(async (tx, after) => {
    const at = c.at ?? clock.now();
    const [row] = await tx.$queryRaw<Array<{ since: Date | null; previous: ConnectionState; name: string }>>`
      WITH old AS (SELECT id, disconnected_since, connection_state FROM whatsapp_instance WHERE id = ${c.instanceId}::uuid FOR UPDATE)
      UPDATE whatsapp_instance i SET disconnected_since = NULL, disconnect_check_at = NULL, connection_state = 'OPEN',
        connection_state_at = ${at}, qr_code = NULL, updated_at = now()
      FROM old WHERE i.id = old.id
      RETURNING old.disconnected_since AS since, old.connection_state AS previous, i.name`;
    if (!row || (row.since === null && row.previous === 'OPEN')) return { readmitted: false, campaigns: [] };
    after.publish('instance:health', { tenantId: c.tenantId, instanceId: c.instanceId });
    const running = await runningCampaigns(tx, c.instanceId);
    for (const r of running) {
      if (!r.paused) continue;
      await appendLog(tx, after, {
        tenantId: c.tenantId,
        campaignId: r.id,
        instanceId: c.instanceId,
        type: 'INSTANCE_RESUMED',
        severity: 'INFO',
        message: `instance ${row.name} connected again (${c.how}): it sends again`,
        details: { cause: 'disconnected', state: 'open', disconnectedSince: row.since?.toISOString() ?? null, via: c.how },
        actor: c.actor,
      });
    }
    return { readmitted: row.since !== null, campaigns: running.map((r) => r.id) };
  });
}

/** Evolution reported a state other than open or closed (connecting): recorded, nothing re-admitted. */
export async function recordConnectionState(tenantId: string, instanceId: string, state: ConnectionState, at: Date): Promise<boolean> {
  const n = await prisma.$executeRaw`
    UPDATE whatsapp_instance SET connection_state = ${state}::"ConnectionState", connection_state_at = ${at}, updated_at = now()
    WHERE id = ${instanceId}::uuid AND tenant_id = ${tenantId}::uuid AND connection_state <> ${state}::"ConnectionState"`;
  return n > 0;
}

/**
 * The polled check (maintenance, every few seconds): each disconnected instance whose check is due
 * is asked for its connectionState; `open` re-admits it (and pumps its campaigns), anything else is
 * recorded and the next check waits as long as the disconnection has lasted (5 s doubling to 5 min).
 * Several workers may run it at once: each due instance is taken by one (its next check moved first).
 */
export async function checkDisconnected(pump: (tenantId: string, campaignId: string) => Promise<void>, log: Logger): Promise<{ checked: number; readmitted: number }> {
  const due = await prisma.$queryRaw<Array<{ id: string; tenant_id: string; since: Date }>>`
    UPDATE whatsapp_instance i SET disconnect_check_at = now() + make_interval(secs => ${DISCONNECT_CHECK_MAX_MS / 1000})
    FROM (SELECT id FROM whatsapp_instance WHERE disconnected_since IS NOT NULL AND disconnect_check_at <= now()
          ORDER BY disconnect_check_at LIMIT 100 FOR UPDATE SKIP LOCKED) d
    WHERE i.id = d.id
    RETURNING i.id, i.tenant_id, i.disconnected_since AS since`;
  let readmitted = 0;
  await Promise.all(
    due.map(async (d) => {
      const instance = await sendInstance(d.tenant_id, d.id);
      const asked = instance ? await instance.client.connectionState(instance.name) : null;
      const state = asked?.ok && asked.state ? (CONNECTION_STATE[asked.state] ?? null) : null;
      if (state === 'OPEN') {
        const r = await markConnected({ tenantId: d.tenant_id, instanceId: d.id, actor: 'system', how: 'connectionState answered open' });
        if (r.readmitted) readmitted++;
        for (const c of r.campaigns) await pump(d.tenant_id, c);
        return;
      }
      const nextMs = disconnectCheckDelayMs(clock.ms() - d.since.getTime());
      const changed = await prisma.$queryRaw<Array<{ changed: boolean }>>`
        UPDATE whatsapp_instance i SET disconnect_check_at = now() + make_interval(secs => ${nextMs / 1000}),
          connection_state = COALESCE(${state}::"ConnectionState", i.connection_state),
          connection_state_at = CASE WHEN ${state}::"ConnectionState" IS NULL THEN i.connection_state_at ELSE now() END
        FROM (SELECT id, connection_state FROM whatsapp_instance WHERE id = ${d.id}::uuid FOR UPDATE) old
        WHERE i.id = old.id AND i.disconnected_since IS NOT NULL
        RETURNING old.connection_state IS DISTINCT FROM i.connection_state AS changed`;
      if (changed[0]?.changed) await publish('instance:health', { tenantId: d.tenant_id, instanceId: d.id }).catch(() => undefined);
      if (asked && !asked.ok) log.debug({ instanceId: d.id, httpStatus: asked.httpStatus, message: asked.message }, 'connectionState of a disconnected instance could not be read');
    }),
  );
  return { checked: due.length, readmitted };
}
