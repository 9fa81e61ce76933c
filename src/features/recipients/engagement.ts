import type { Tx } from '../../infra/db/client.js';

// What a recipient did with its message: replied, clicked a tracked link, converted. Each records the
// first time only (later ones change nothing here); the caller counts it on the campaign.

/** The recipient replied at `at`; true when it is its first reply. */
export async function markReplied(tx: Tx, recipientId: string, at: Date): Promise<boolean> {
  const n = await tx.$executeRaw`
    UPDATE recipient SET replied_at = ${at}, updated_at = now() WHERE id = ${recipientId}::uuid AND replied_at IS NULL`;
  return n === 1;
}

/** The recipient clicked a tracked link; true when it is its first click. */
export async function markClicked(tx: Tx, recipientId: string): Promise<boolean> {
  const n = await tx.$executeRaw`
    UPDATE recipient SET clicked_at = now(), updated_at = now() WHERE id = ${recipientId}::uuid AND clicked_at IS NULL`;
  return n > 0;
}

/**
 * A conversion attributed to the recipient: its earliest conversion time kept, its value added.
 * True when it is its first conversion.
 */
export async function markConverted(tx: Tx, recipientId: string, occurredAt: Date, value: number | null): Promise<boolean> {
  const [r] = await tx.$queryRaw<Array<{ first: boolean }>>`
    WITH old AS (SELECT id, converted_at FROM recipient WHERE id = ${recipientId}::uuid FOR UPDATE)
    UPDATE recipient r SET converted_at = LEAST(COALESCE(old.converted_at, ${occurredAt}), ${occurredAt}),
      conversion_value = r.conversion_value + ${value ?? 0}::numeric, updated_at = now()
    FROM old WHERE r.id = old.id
    RETURNING old.converted_at IS NULL AS first`;
  return r?.first ?? false;
}
