/**
 * Rules for resolving a send whose outcome is unknown (the call timed out, the connection broke, the
 * worker died) against Evolution's message store (`/chat/findMessages`). Pure: the reconciler in
 * src/features/dispatch/reconcile.ts asks Evolution and records what these rules decide.
 */

/** What one lookup of the message in Evolution's store found. */
export type LookupResult =
  /** The message is there (or a receipt named the key id we chose): it was sent. */
  | { kind: 'FOUND'; keyId: string; statuses: string[]; by?: 'receipt' }
  /** Not there. */
  | { kind: 'NOT_FOUND' }
  /** Messages of ours to that chat in the window, none of which can be told to be this one. */
  | { kind: 'AMBIGUOUS'; candidates: number }
  /** Evolution did not answer the lookup. */
  | { kind: 'ERROR'; message: string };

/**
 * Whether Evolution keeps messages at all (`DATABASE_SAVE_DATA_NEW_MESSAGE`): a message of ours known to
 * have been sent from the same instance is looked up too. Without that proof a missing message proves
 * nothing.
 */
export type ControlResult = 'FOUND' | 'MISSING' | 'NO_REFERENCE' | 'ERROR';

export type Decision = 'SENT' | 'NOT_SENT' | 'UNDECIDABLE' | 'WAIT';

export interface DecisionInput {
  lookup: LookupResult;
  control: ControlResult | null;
  /** Milliseconds since the send was claimed. */
  sinceSendMs: number;
  /** EVOLUTION_TIMEOUT_MS + RECONCILE_GRACE_MS: a request Evolution still held could be processed until then. */
  settleMs: number;
  /** RECONCILE_MAX_MS. */
  maxMs: number;
  /** Lookups before this one that found nothing (with a working store). */
  earlierMisses: number;
}

/**
 * - Found in the store: SENT.
 * - Not found, twice, with the store shown to work, after `settleMs`: NOT_SENT (queued again). Before
 *   `settleMs` a request Evolution still holds may yet be processed; a single miss could be a store
 *   write not yet visible, so the first such miss is looked at again (even past `maxMs`).
 * - Anything else waits for the next lookup, until `maxMs`: then UNDECIDABLE (the recipient stays
 *   UNKNOWN with the evidence, for an operator's `resendUnknown`).
 */
export function decide(input: DecisionInput): Decision {
  if (input.lookup.kind === 'FOUND') return 'SENT';
  const provenMissing = input.lookup.kind === 'NOT_FOUND' && input.control === 'FOUND' && input.sinceSendMs >= input.settleMs;
  if (provenMissing && input.earlierMisses >= 1) return 'NOT_SENT';
  // A first conclusive miss is confirmed by one more look, even past the deadline.
  if (provenMissing) return 'WAIT';
  if (input.sinceSendMs >= input.maxMs) return 'UNDECIDABLE';
  return 'WAIT';
}

/** When to look again after `attempts` lookups: 10 s, 20 s, 40 s … at most 5 minutes. */
export function nextLookupDelayMs(attempts: number): number {
  return Math.min(300_000, 10_000 * 2 ** Math.max(0, attempts - 1));
}

/** The text of a stored message: a text's body or a media's caption; null when it has none (audio). */
export function storedText(message: Record<string, unknown> | undefined | null): string | null {
  if (!message) return null;
  if (typeof message.conversation === 'string') return message.conversation;
  const ext = message.extendedTextMessage as { text?: unknown } | undefined;
  if (ext && typeof ext.text === 'string') return ext.text;
  for (const k of ['imageMessage', 'videoMessage', 'documentMessage', 'documentWithCaptionMessage']) {
    const m = message[k] as { caption?: unknown } | undefined;
    if (m && typeof m.caption === 'string') return m.caption;
  }
  return null;
}

export interface Candidate {
  keyId: string;
  fromMe: boolean;
  /** Unix seconds. */
  timestamp: number;
  text: string | null;
  statuses: string[];
}

/**
 * Which of the messages of ours found in the recipient's chat is this send's, if any:
 * - with a key id chosen before the call (Evolution 2.4.0+), only that key id;
 * - with the rendered text known, the one message in the window with that text;
 * - without it (the worker died before recording it), the one message in the window (none of ours
 *   to that phone can overlap: the phone lock), and AMBIGUOUS when there are several.
 * Messages already attributed to another send (`taken`) are never this one.
 */
export function pickMatch(
  candidates: readonly Candidate[],
  opts: { requestKeyId: string | null; text: string | null; fromS: number; toS: number; taken: ReadonlySet<string> },
): LookupResult {
  const mine = candidates.filter((c) => c.fromMe && !opts.taken.has(c.keyId));
  if (opts.requestKeyId) {
    const hit = mine.find((c) => c.keyId === opts.requestKeyId);
    return hit ? { kind: 'FOUND', keyId: hit.keyId, statuses: hit.statuses } : { kind: 'NOT_FOUND' };
  }
  const inWindow = mine.filter((c) => c.timestamp >= opts.fromS && c.timestamp <= opts.toS);
  if (opts.text !== null) {
    const same = inWindow.filter((c) => c.text === opts.text);
    if (same.length >= 1) {
      const first = same[0] as Candidate;
      return same.length === 1 ? { kind: 'FOUND', keyId: first.keyId, statuses: first.statuses } : { kind: 'AMBIGUOUS', candidates: same.length };
    }
    return { kind: 'NOT_FOUND' };
  }
  if (inWindow.length === 0) return { kind: 'NOT_FOUND' };
  const only = inWindow[0] as Candidate;
  return inWindow.length === 1 ? { kind: 'FOUND', keyId: only.keyId, statuses: only.statuses } : { kind: 'AMBIGUOUS', candidates: inWindow.length };
}

/** A key id chosen before the call for Evolution 2.4.0+: Baileys' form (`3EB0` and 18 hex digits). */
export function chosenKeyId(randomHex: string): string {
  return `3EB0${randomHex.toUpperCase().slice(0, 18).padEnd(18, '0')}`;
}
