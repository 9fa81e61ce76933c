import { destination, pino } from 'pino';
import { config } from '../config/index.js';

/**
 * A phone number as logs may show it: the country and area digits and the last four, the rest
 * hidden (at least four digits), e.g. +5511999991234 → +55119****1234.
 */
export function maskPhone(phone: string): string {
  const plus = phone.startsWith('+') ? '+' : '';
  const digits = phone.replace(/\D/g, '');
  if (digits.length < 8) return `${plus}${'*'.repeat(digits.length)}`;
  const head = digits.slice(0, Math.max(0, Math.min(5, digits.length - 8)));
  return `${plus}${head}${'*'.repeat(digits.length - head.length - 4)}${digits.slice(-4)}`;
}

// A run of 10 to 15 digits standing alone (E.164 numbers, WhatsApp JIDs such as
// 5511999991234@s.whatsapp.net); not inside ids, hex, UUIDs or decimals, and not 13 digits starting
// with 1: an epoch in milliseconds (BullMQ's repeat job ids), never a phone number (country code 1
// numbers have 11 digits).
const PHONE_RUN = /(?<![\w.+-])(?!1\d{12}(?!\d))\+?\d{10,15}(?![\w-])/g;
// Our API keys: the prefix (wcp_<id>) is what the product shows; the secret part never appears.
const API_KEY = /\b(wcp_[A-Za-z0-9_-]{12})_[A-Za-z0-9_-]{20,}/g;
const JWT = /\beyJ[\w-]{4,}\.eyJ[\w-]{4,}\.[\w-]+/g;
// The instance's secret is in its webhook URL's path.
const WEBHOOK_SECRET = /(\/webhooks\/evolution\/)[A-Za-z0-9_-]{16,}/g;

/**
 * The last guard of every log line, after the structured redaction below: whatever a message or an
 * error carries (an Evolution error quoting a JID, a URL with the webhook secret, a key pasted in a
 * header), full phone numbers are masked and keys are cut out of the serialized line.
 */
export function scrubLogLine(line: string): string {
  return line
    .replace(API_KEY, '$1_[redacted]')
    .replace(JWT, '[redacted-jwt]')
    .replace(WEBHOOK_SECRET, '$1[redacted]')
    .replace(PHONE_RUN, (m) => maskPhone(m));
}

/**
 * Structured logs, as JSON lines on stdout (or appended to LOG_FILE). Secrets never reach them: API
 * keys, provider keys, webhook secrets and JWTs are redacted wherever they appear under these paths,
 * and every line goes through scrubLogLine. Times are ISO strings (an epoch-milliseconds number would
 * look like a phone number to the scrubber).
 */
export const logger = pino(
  {
    level: config.logLevel,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    hooks: { streamWrite: scrubLogLine },
    redact: {
      paths: [
        'apiKey',
        'apikey',
        'key',
        'secret',
        'token',
        'authorization',
        '*.apiKey',
        '*.apikey',
        '*.authorization',
        '*.Authorization',
        '*.secret',
        '*.token',
        'headers.authorization',
        'headers.apikey',
        'req.headers.authorization',
        'req.headers.apikey',
      ],
      censor: '[redacted]',
    },
  },
  // Synchronous, as pino's default stdout: a line is written before the call returns (nothing lost on exit).
  destination({ dest: config.logFile ?? 1, append: true, mkdir: true, sync: true }),
);

export type Logger = typeof logger;
