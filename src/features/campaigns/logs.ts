import type { DbOrTx } from '../../infra/db/client.js';
import type { AfterCommit } from '../../infra/db/transaction.js';
import type { LogSeverity, LogType, Prisma } from '../../generated/prisma/client.js';

export interface LogEntry {
  tenantId: string;
  campaignId?: string | null;
  type: LogType;
  severity?: LogSeverity;
  message: string;
  details?: Prisma.InputJsonValue;
  instanceId?: string | null;
  contactId?: string | null;
  recipientId?: string | null;
  durationMs?: number | null;
  request?: Prisma.InputJsonValue;
  response?: Prisma.InputJsonValue;
  httpStatus?: number | null;
  progress?: Prisma.InputJsonValue;
  health?: Prisma.InputJsonValue;
  actor?: string | null;
}

/** Appends one entry to the campaign log and streams it once committed; returns its id. */
export async function appendLog(db: DbOrTx, after: AfterCommit | null, entry: LogEntry): Promise<bigint> {
  const [id] = await appendLogs(db, after, [entry]);
  return id as bigint;
}

/**
 * The campaign log's one writer (besides the group commit of accepted sends, which inserts their
 * entries inside its single statement: src/features/recipients/record-sent.ts): entries in one plain statement
 * (one JSON parameter; Prisma builds no per-row query), in the order given, each streamed once
 * committed. Returns their ids in that order.
 */
export async function appendLogs(db: DbOrTx, after: AfterCommit | null, entries: readonly LogEntry[]): Promise<bigint[]> {
  if (entries.length === 0) return [];
  const json = JSON.stringify(
    entries.map((e) => ({
      tenant_id: e.tenantId,
      campaign_id: e.campaignId ?? null,
      type: e.type,
      severity: e.severity ?? 'INFO',
      message: e.message,
      details: e.details ?? null,
      instance_id: e.instanceId ?? null,
      contact_id: e.contactId ?? null,
      recipient_id: e.recipientId ?? null,
      duration_ms: e.durationMs ?? null,
      request: e.request ?? null,
      response: e.response ?? null,
      http_status: e.httpStatus ?? null,
      progress: e.progress ?? null,
      health: e.health ?? null,
      actor: e.actor ?? null,
    })),
  );
  const rows = await db.$queryRaw<Array<{ id: bigint; tenant_id: string; campaign_id: string | null; type: string; severity: string }>>`
    INSERT INTO campaign_log (tenant_id, campaign_id, type, severity, message, details, instance_id, contact_id, recipient_id,
      duration_ms, request, response, http_status, progress, health, actor)
    SELECT tenant_id, campaign_id, type, severity, message, details, instance_id, contact_id, recipient_id,
      duration_ms, request, response, http_status, progress, health, actor
    FROM jsonb_array_elements(${json}::jsonb) WITH ORDINALITY AS e(j, ord)
    CROSS JOIN LATERAL jsonb_to_record(e.j) AS x(tenant_id uuid, campaign_id uuid, type "LogType", severity "LogSeverity", message text,
      details jsonb, instance_id uuid, contact_id uuid, recipient_id uuid, duration_ms int, request jsonb, response jsonb, http_status int,
      progress jsonb, health jsonb, actor text)
    ORDER BY e.ord
    RETURNING id, tenant_id, campaign_id, type::text, severity::text`;
  rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (after) {
    for (const r of rows) {
      if (r.campaign_id) after.publish('campaign:log', { tenantId: r.tenant_id, campaignId: r.campaign_id, logIds: [r.id.toString()], severity: r.severity, type: r.type });
    }
  }
  return rows.map((r) => r.id);
}
