import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { config } from '../config/index.js';

const VERSION = 'v1';

/** AES-256-GCM with a random 96-bit nonce: `v1.<iv>.<tag>.<ciphertext>`, base64url parts. */
export function encryptSecret(plain: string, key: Buffer = config.encryptionKey): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return [VERSION, iv, cipher.getAuthTag(), data].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
}

export function decryptSecret(sealed: string, key: Buffer = config.encryptionKey): string {
  const [version, iv, tag, data] = sealed.split('.');
  if (version !== VERSION || !iv || !tag || data === undefined) throw new Error('not a sealed secret');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
}

const API_KEY_PREFIX = 'wcp';

/**
 * A new API key: `wcp_<12 chars id>_<43 chars secret>`. 256 bits of entropy make a salted slow hash
 * pointless; SHA-256 lets every request be checked with one indexed lookup.
 */
export function generateApiKey(): { key: string; prefix: string; hash: string } {
  const id = randomBytes(9).toString('base64url');
  const secret = randomBytes(32).toString('base64url');
  const key = `${API_KEY_PREFIX}_${id}_${secret}`;
  return { key, prefix: `${API_KEY_PREFIX}_${id}`, hash: hashApiKey(key) };
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function looksLikeApiKey(value: string): boolean {
  return /^wcp_[A-Za-z0-9_-]{12}_[A-Za-z0-9_-]{43}$/.test(value);
}

/** A random URL-safe token (webhook secrets, link codes). */
export function randomToken(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
