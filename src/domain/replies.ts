/**
 * Incoming messages (Evolution `messages.upsert`, evolution-api.md §7) read as replies: who sent
 * them, what they said, and whether they ask to stop receiving messages. Plain functions, no I/O.
 */

export interface IncomingKey {
  remoteJid: string;
  fromMe: boolean;
  remoteJidAlt?: string | null;
}

export type Sender = { kind: 'phone'; digits: string } | { kind: 'ignored'; reason: string };

const PHONE_SUFFIX = '@s.whatsapp.net';

/**
 * The sender of an incoming 1:1 message. Baileys 7 may put the LID in `remoteJid` and the phone in
 * `remoteJidAlt` or the other way round, depending on the Evolution version: whichever ends in
 * `@s.whatsapp.net` is the phone. Groups, broadcasts, newsletters and our own messages are not replies.
 */
export function incomingSender(key: IncomingKey): Sender {
  if (key.fromMe) return { kind: 'ignored', reason: 'our own message' };
  const jid = key.remoteJid;
  if (jid.endsWith('@g.us')) return { kind: 'ignored', reason: 'group message' };
  if (jid.endsWith('@broadcast')) return { kind: 'ignored', reason: 'status or broadcast' };
  if (jid.endsWith('@newsletter')) return { kind: 'ignored', reason: 'channel message' };
  const phoneJid = [jid, key.remoteJidAlt].find((j): j is string => typeof j === 'string' && j.endsWith(PHONE_SUFFIX));
  if (!phoneJid) return { kind: 'ignored', reason: 'no phone number in the message key (LID only)' };
  const digits = (phoneJid.split('@')[0] ?? '').split(':')[0]?.replace(/\D/g, '') ?? '';
  if (digits.length < 8 || digits.length > 15) return { kind: 'ignored', reason: `not a phone number: ${phoneJid}` };
  return { kind: 'phone', digits };
}

/**
 * E.164 numbers a WhatsApp id may belong to. Brazilian mobiles registered before the ninth digit
 * keep their 12-digit id (`55 11 8888 7777`) while contacts are stored with it (`+55 11 98888 7777`),
 * so both forms are tried.
 */
export function phoneCandidates(digits: string): string[] {
  const out = [`+${digits}`];
  if (digits.startsWith('55')) {
    const area = digits.slice(2, 4);
    const rest = digits.slice(4);
    if (rest.length === 8 && /^[6-9]/.test(rest)) out.push(`+55${area}9${rest}`);
    if (rest.length === 9 && rest.startsWith('9')) out.push(`+55${area}${rest.slice(1)}`);
  }
  return out;
}

type Content = Record<string, unknown> | null | undefined;

function str(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v : null;
}

function field(content: Content, type: string, key: string): string | null {
  const inner = content?.[type];
  return inner && typeof inner === 'object' ? str((inner as Record<string, unknown>)[key]) : null;
}

/** The text of a message: its body, a caption, or the label of a button or list choice; null for none. */
export function incomingText(message: Content): string | null {
  if (!message) return null;
  return (
    str(message.conversation) ??
    field(message, 'extendedTextMessage', 'text') ??
    field(message, 'imageMessage', 'caption') ??
    field(message, 'videoMessage', 'caption') ??
    field(message, 'documentMessage', 'caption') ??
    field(message, 'buttonsResponseMessage', 'selectedDisplayText') ??
    field(message, 'templateButtonReplyMessage', 'selectedDisplayText') ??
    field(message, 'listResponseMessage', 'title') ??
    null
  );
}

/** Upper case, accents removed, surrounding punctuation and emoji dropped, inner spaces collapsed. */
export function normalizeKeyword(text: string): string {
  return text
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toUpperCase()
    .replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '')
    .replace(/\s+/g, ' ');
}

/**
 * Whether a message is a keyword (opt-out, opt-in): the whole message (not a word inside a sentence) is one of the
 * tenant's keywords, ignoring case, accents and surrounding punctuation ("Sair", "parar!", "CANCELAR").
 */
export function isKeyword(text: string | null, keywords: readonly string[]): boolean {
  if (!text) return false;
  const said = normalizeKeyword(text);
  if (!said) return false;
  return keywords.some((k) => normalizeKeyword(k) === said);
}

/** When the message was sent, from Evolution's `messageTimestamp` (unix seconds, number or string); null if unusable. */
export function messageTime(value: unknown): Date | null {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || n <= 0) return null;
  // Seconds in every Evolution version; a value in milliseconds is accepted too.
  const ms = n > 1e12 ? n : n * 1000;
  return new Date(ms);
}

/** A short excerpt of a reply for the campaign log. */
export function excerpt(text: string | null, max = 200): string | null {
  if (text === null) return null;
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
