import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { stringify } from 'csv-stringify';
import { prisma } from '../../infra/db/client.js';

/** Rows fetched per round trip: memory stays flat whatever the campaign's size. */
const PAGE = 2000;

export const REPORT_COLUMNS = [
  'recipient_id',
  'contact_id',
  'contact_name',
  'phone',
  'variation',
  'ab_variant',
  'instance',
  'status',
  'attempts',
  'queued_at',
  'sending_at',
  'sent_at',
  'delivered_at',
  'read_at',
  'played_at',
  'failed_at',
  'skipped_at',
  'replied_at',
  'clicked_at',
  'converted_at',
  'send_duration_ms',
  'error_code',
  'error',
  'replied',
  'clicked',
  'converted',
  'conversion_value',
] as const;

interface Row {
  id: string;
  contact_id: string;
  name: string | null;
  phone: string;
  message_id: string | null;
  ab_variant: string | null;
  instance_id: string | null;
  status: string;
  attempts: number;
  queued_at: Date | null;
  sending_at: Date | null;
  sent_at: Date | null;
  delivered_at: Date | null;
  read_at: Date | null;
  played_at: Date | null;
  failed_at: Date | null;
  skipped_at: Date | null;
  replied_at: Date | null;
  clicked_at: Date | null;
  converted_at: Date | null;
  send_duration_ms: number | null;
  error_code: string | null;
  error: string | null;
  conversion_value: string;
}

/** Cells a spreadsheet would run as a formula are prefixed with ' (free text only; phones keep their +). */
function safeText(value: string | null): string {
  if (!value) return '';
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

const iso = (d: Date | null) => (d ? d.toISOString() : '');

/** Waits until the CSV stream wants more, or the destination went away; leaves no listener behind. */
async function drained(csv: NodeJS.EventEmitter, out: Writable) {
  const ac = new AbortController();
  try {
    await Promise.race([once(csv, 'drain', { signal: ac.signal }), once(out, 'close', { signal: ac.signal })]);
  } finally {
    ac.abort();
  }
}

/**
 * Writes the campaign's report as CSV to `out`, one row per recipient, paging through the recipients
 * by the (campaign_id, contact_id) unique index and waiting for `out` to drain, so memory stays flat.
 * Stops early (without error) when `out` is destroyed, e.g. the client went away. The caller has
 * checked that the campaign belongs to `tenantId`.
 */
export async function writeCampaignReport(tenantId: string, campaignId: string, out: Writable): Promise<number> {
  const [messages, instances] = await Promise.all([
    prisma.campaignMessage.findMany({ where: { campaignId, tenantId }, select: { id: true, order: true, abVariant: true }, orderBy: [{ order: 'asc' }, { createdAt: 'asc' }] }),
    prisma.$queryRaw<Array<{ id: string; name: string }>>`
      SELECT i.id, i.name FROM whatsapp_instance i
      WHERE i.tenant_id = ${tenantId}::uuid
        AND (i.id IN (SELECT instance_id FROM campaign_instance WHERE campaign_id = ${campaignId}::uuid)
          OR i.id IN (SELECT DISTINCT instance_id FROM recipient WHERE campaign_id = ${campaignId}::uuid AND instance_id IS NOT NULL))`,
  ]);
  const variation = new Map(messages.map((m, i) => [m.id, m.abVariant ?? String(i + 1)]));
  const instanceName = new Map(instances.map((i) => [i.id, i.name]));

  const csv = stringify({ header: true, columns: [...REPORT_COLUMNS] });
  csv.pipe(out);
  const finished = once(csv, 'end');
  finished.catch(() => undefined); // awaited below unless the destination is gone
  let written = 0;
  let after = '00000000-0000-0000-0000-000000000000';
  try {
    for (;;) {
      if (out.destroyed) break;
      // The contact's name by a per-row lookup: a join lets the planner merge-join the whole contact
      // table from its start on every page (seconds per page at a million recipients).
      const rows = await prisma.$queryRaw<Row[]>`
        SELECT r.id, r.contact_id, (SELECT ct.name FROM contact ct WHERE ct.id = r.contact_id) AS name, r.phone, r.message_id, r.ab_variant,
               r.instance_id, r.status::text AS status, r.attempts,
               r.queued_at, r.sending_at, r.sent_at, r.delivered_at, r.read_at, r.played_at, r.failed_at, r.skipped_at,
               r.replied_at, r.clicked_at, r.converted_at, r.send_duration_ms, r.error_code, r.error, r.conversion_value::text AS conversion_value
        FROM recipient r
        WHERE r.campaign_id = ${campaignId}::uuid AND r.tenant_id = ${tenantId}::uuid AND r.contact_id > ${after}::uuid
        ORDER BY r.contact_id
        LIMIT ${PAGE}`;
      for (const r of rows) {
        const ok = csv.write([
          r.id,
          r.contact_id,
          safeText(r.name),
          r.phone,
          r.message_id ? (variation.get(r.message_id) ?? '') : '',
          r.ab_variant ?? '',
          r.instance_id ? (instanceName.get(r.instance_id) ?? r.instance_id) : '',
          r.status,
          r.attempts,
          iso(r.queued_at),
          iso(r.sending_at),
          iso(r.sent_at),
          iso(r.delivered_at),
          iso(r.read_at),
          iso(r.played_at),
          iso(r.failed_at),
          iso(r.skipped_at),
          iso(r.replied_at),
          iso(r.clicked_at),
          iso(r.converted_at),
          r.send_duration_ms ?? '',
          r.error_code ?? '',
          safeText(r.error),
          r.replied_at ? 'true' : 'false',
          r.clicked_at ? 'true' : 'false',
          r.converted_at ? 'true' : 'false',
          r.conversion_value,
        ]);
        written++;
        if (!ok && !out.destroyed) await drained(csv, out);
      }
      if (rows.length < PAGE) break;
      after = (rows.at(-1) as Row).contact_id;
    }
  } finally {
    csv.end();
  }
  if (!out.destroyed) await finished;
  return written;
}
