/**
 * Delivery receipts (Evolution `messages.update`) applied to a recipient, order-free and idempotent.
 *
 * Ranks: PENDING < SERVER_ACK < ERROR < DELIVERY_ACK < READ < PLAYED. A receipt applies only when it
 * outranks what the recipient already holds, so duplicates and late lower receipts change nothing and
 * the final state depends only on the set of receipts received, never on their order. ERROR is
 * terminal for everything below delivery, but never overrides DELIVERY_ACK or later: once WhatsApp
 * reported the message delivered, a stray error receipt cannot un-deliver it (see docs/decisions.md).
 */
export const PROVIDER_STATUSES = ['PENDING', 'SERVER_ACK', 'ERROR', 'DELIVERY_ACK', 'READ', 'PLAYED'] as const;
export type ProviderStatus = (typeof PROVIDER_STATUSES)[number];

const RANK: Record<ProviderStatus, number> = {
  PENDING: 0,
  SERVER_ACK: 1,
  ERROR: 2,
  DELIVERY_ACK: 3,
  READ: 4,
  PLAYED: 5,
};

/** Baileys' numeric statuses (0–5), accepted although Evolution always sends strings. */
const NUMERIC: Record<number, ProviderStatus> = {
  0: 'ERROR',
  1: 'PENDING',
  2: 'SERVER_ACK',
  3: 'DELIVERY_ACK',
  4: 'READ',
  5: 'PLAYED',
};

/**
 * Meta's status words, as Evolution's WHATSAPP-BUSINESS integration forwards them (evolution-api.md §12):
 * `SENT` is the server's ack, `DELIVERED` and `FAILED` mean what they say (`READ` is the same word).
 */
const META_WORDS: Record<string, ProviderStatus> = { SENT: 'SERVER_ACK', DELIVERED: 'DELIVERY_ACK', FAILED: 'ERROR' };

/** A webhook status as a ProviderStatus; null for statuses that carry no delivery meaning (DELETED, …). */
export function parseProviderStatus(value: unknown): ProviderStatus | null {
  if (typeof value === 'number') return NUMERIC[value] ?? null;
  if (typeof value !== 'string') return null;
  const upper = value.trim().toUpperCase();
  if (META_WORDS[upper]) return META_WORDS[upper];
  return (PROVIDER_STATUSES as readonly string[]).includes(upper) ? (upper as ProviderStatus) : null;
}

/**
 * What a failed receipt says about why, as far as it says anything: Meta's `errors[]` (`title`,
 * `message`, `code`, `error_data.details`) or any `error` text; null when it carries none (Evolution
 * 2.3.6 forwards none).
 */
export function receiptErrorDetail(errors: unknown, error: unknown): string | null {
  const parts: string[] = [];
  const one = (e: unknown) => {
    if (typeof e === 'string' && e.trim()) parts.push(e.trim());
    else if (e && typeof e === 'object') {
      const o = e as { code?: unknown; title?: unknown; message?: unknown; error_data?: { details?: unknown } };
      const text = [o.title, o.message, o.error_data?.details].filter((x): x is string => typeof x === 'string' && x.length > 0);
      const unique = [...new Set(text)].join(': ');
      parts.push(`${unique || JSON.stringify(o)}${typeof o.code === 'number' || typeof o.code === 'string' ? ` [code ${o.code}]` : ''}`);
    }
  };
  if (Array.isArray(errors)) errors.forEach(one);
  else one(errors);
  one(error);
  const detail = parts.join('; ');
  return detail ? detail.slice(0, 500) : null;
}

export interface ReceiptState {
  status: string;
  sentAt: Date | null;
  deliveredAt: Date | null;
  readAt: Date | null;
  playedAt: Date | null;
  failedAt: Date | null;
}

/** The rank a recipient holds, from its status and timestamps. */
export function heldRank(r: ReceiptState): number {
  if (r.playedAt) return RANK.PLAYED;
  if (r.readAt) return RANK.READ;
  if (r.deliveredAt) return RANK.DELIVERY_ACK;
  if (r.status === 'FAILED' && r.failedAt && r.sentAt) return RANK.ERROR;
  if (r.sentAt) return RANK.SERVER_ACK;
  return -1;
}

export type ReceiptEvent = 'sent' | 'delivered' | 'read' | 'failed' | 'unfailed';

export interface ReceiptChange {
  status: 'SENT' | 'DELIVERED' | 'READ' | 'FAILED';
  set: Partial<Pick<ReceiptState, 'sentAt' | 'deliveredAt' | 'readAt' | 'playedAt' | 'failedAt'>>;
  /** What happened, for counters, health and the log. */
  events: ReceiptEvent[];
}

/**
 * The change a receipt makes, or null when it changes nothing. A higher status sets every lower
 * timestamp it skipped (READ before DELIVERY_ACK sets both).
 */
export function applyReceipt(current: ReceiptState, incoming: ProviderStatus, at: Date): ReceiptChange | null {
  const rank = RANK[incoming];
  if (rank <= heldRank(current) || incoming === 'PENDING') return null;
  const set: ReceiptChange['set'] = {};
  const events: ReceiptEvent[] = [];
  if (!current.sentAt) {
    set.sentAt = at;
    events.push('sent');
  }
  if (incoming === 'SERVER_ACK') return { status: 'SENT', set, events };
  if (incoming === 'ERROR') {
    set.failedAt = at;
    events.push('failed');
    return { status: 'FAILED', set, events };
  }
  if (current.status === 'FAILED') events.push('unfailed');
  if (!current.deliveredAt) {
    set.deliveredAt = at;
    events.push('delivered');
  }
  if (incoming === 'DELIVERY_ACK') return { status: 'DELIVERED', set, events };
  if (!current.readAt) {
    set.readAt = at;
    events.push('read');
  }
  if (incoming === 'PLAYED') set.playedAt = at;
  return { status: 'READ', set, events };
}
