import type { DbOrTx } from '../db/client.js';
import type { AfterCommit } from '../db/transaction.js';
import type { LogSeverity, LogType, Prisma } from '../generated/prisma/client.js';

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

/** Appends to the campaign log (the only write the log ever takes) and streams it once committed. */
export async function appendLog(db: DbOrTx, after: AfterCommit | null, entry: LogEntry): Promise<bigint> {
  const row = await db.campaignLog.create({
    data: { ...entry, severity: entry.severity ?? 'INFO' },
    select: { id: true },
  });
  if (after && entry.campaignId) {
    after.publish('campaign:log', {
      tenantId: entry.tenantId,
      campaignId: entry.campaignId,
      logIds: [row.id.toString()],
      severity: entry.severity ?? 'INFO',
      type: entry.type,
    });
  }
  return row.id;
}

/** Many entries in one statement (bulk paths); streamed once committed. */
export async function appendLogs(db: DbOrTx, after: AfterCommit | null, entries: LogEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const rows = await db.campaignLog.createManyAndReturn({
    data: entries.map((e) => ({ ...e, severity: e.severity ?? 'INFO' })),
    select: { id: true, campaignId: true, severity: true, type: true, tenantId: true },
  });
  if (!after) return;
  for (const r of rows) {
    if (r.campaignId) after.publish('campaign:log', { tenantId: r.tenantId, campaignId: r.campaignId, logIds: [r.id.toString()], severity: r.severity, type: r.type });
  }
}
