import type { DbOrTx } from '../../infra/db/client.js';
import type { ConsentKind, ConsentSource, Prisma } from '../../generated/prisma/client.js';

// A contact's consent: its standing opt-in or opt-out on the contact row, every change in consent_event.

/**
 * Opts the contacts in or out (source and detail recorded), only those whose consent changes: an
 * opt-in also ends an opt-out, an opt-out ends the opt-in. Returns the ids that changed. Withdrawing
 * an opted-out contact's waiting messages is the caller's (recipients/audience.ts withdrawContacts).
 */
export async function changeConsent(
  tx: DbOrTx,
  tenantId: string,
  contactIds: readonly string[],
  kind: ConsentKind,
  source: ConsentSource,
  detail: Prisma.InputJsonValue,
  at: Date = new Date(),
): Promise<string[]> {
  if (contactIds.length === 0) return [];
  const changed =
    kind === 'OPT_IN'
      ? await tx.$queryRaw<Array<{ id: string }>>`
          UPDATE contact SET opted_in_at = ${at}, opt_in_source = ${source}::"ConsentSource", opted_out = false, opted_out_at = NULL,
            opt_out_source = NULL, updated_at = now()
          WHERE tenant_id = ${tenantId}::uuid AND id = ANY(${[...contactIds]}::uuid[]) AND (opted_in_at IS NULL OR opted_out)
          RETURNING id`
      : await tx.$queryRaw<Array<{ id: string }>>`
          UPDATE contact SET opted_out = true, opted_out_at = ${at}, opt_out_source = ${source}::"ConsentSource", opted_in_at = NULL,
            opt_in_source = NULL, updated_at = now()
          WHERE tenant_id = ${tenantId}::uuid AND id = ANY(${[...contactIds]}::uuid[]) AND NOT opted_out
          RETURNING id`;
  const ids = changed.map((c) => c.id);
  if (ids.length) {
    await tx.$executeRaw`
      INSERT INTO consent_event (tenant_id, contact_id, kind, source, detail, at)
      SELECT ${tenantId}::uuid, id, ${kind}::"ConsentKind", ${source}::"ConsentSource", ${JSON.stringify(detail)}::jsonb, ${at}
      FROM unnest(${ids}::uuid[]) AS id`;
  }
  return ids;
}
