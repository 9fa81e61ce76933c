/**
 * Tracked links: which URLs of a variation are tracked, how they are swapped for short links in the
 * rendered text, and which requests to a short link are clicks. Pure, no I/O.
 */

/** Short-link codes: 12 base62 characters (about 71 random bits). */
export const LINK_CODE_LENGTH = 12;
const CODE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const CODE_PATTERN = new RegExp(`^[A-Za-z0-9]{${LINK_CODE_LENGTH}}$`);

export function isLinkCode(value: string): boolean {
  return CODE_PATTERN.test(value);
}

/** A code from random bytes (rejection sampling keeps every character equally likely). */
export function linkCodeFrom(randomBytes: (n: number) => Uint8Array): string {
  let code = '';
  while (code.length < LINK_CODE_LENGTH) {
    for (const b of randomBytes(LINK_CODE_LENGTH * 2)) {
      if (b < 248 && code.length < LINK_CODE_LENGTH) code += CODE_ALPHABET[b % 62];
    }
  }
  return code;
}

const URL_PATTERN = /https?:\/\/[^\s<>"'`]+/gi;

/** Trailing punctuation that ends a sentence rather than the URL (a `)` only when unbalanced). */
function trimUrl(raw: string): string {
  let url = raw;
  for (;;) {
    const last = url.at(-1);
    if (!last) return url;
    if ('.,;:!?*_~\'"]}'.includes(last)) url = url.slice(0, -1);
    else if (last === ')' && (url.match(/\(/g)?.length ?? 0) < (url.match(/\)/g)?.length ?? 0)) url = url.slice(0, -1);
    else return url;
  }
}

function urlsIn(text: string): Array<{ url: string; index: number }> {
  const out: Array<{ url: string; index: number }> = [];
  for (const m of text.matchAll(URL_PATTERN)) {
    const url = trimUrl(m[0]);
    if (/^https?:\/\/[^/?#]+/i.test(url)) out.push({ url, index: m.index });
  }
  return out;
}

/**
 * The URLs of a variation's text that are tracked, in order of appearance, without duplicates. A URL
 * built from a template variable (`https://x.com/?u={{nome}}`) differs per contact and is left alone.
 */
export function trackableUrls(template: string): string[] {
  return [...new Set(urlsIn(template).map((u) => u.url).filter((u) => !u.includes('{{') && !u.includes('}}')))];
}

/** The rendered text with every tracked URL replaced by its short link; other text is untouched. */
export function replaceUrls(text: string, shortUrls: ReadonlyMap<string, string>): string {
  let out = '';
  let from = 0;
  for (const { url, index } of urlsIn(text)) {
    const short = shortUrls.get(url);
    if (!short) continue;
    out += text.slice(from, index) + short;
    from = index + url.length;
  }
  return out + text.slice(from);
}

/**
 * Link-preview fetchers and crawlers, which open a link without anyone clicking it (Evolution builds
 * a preview of every URL it sends unless told not to). They are redirected but not counted.
 */
const NOT_A_CLICK = /(bot\b|bot\/|crawler|spider|preview|facebookexternalhit|whatsapp|telegram|slack|discord|skype|node-fetch|axios|python-requests|go-http-client|okhttp|java\/|libwww|wget|headless)/i;

export function isHumanClick(method: string, userAgent: string | undefined): boolean {
  if (method !== 'GET') return false;
  if (!userAgent || !userAgent.trim()) return false;
  return !NOT_A_CLICK.test(userAgent);
}
