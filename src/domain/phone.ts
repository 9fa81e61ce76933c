import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js/max';

/**
 * A phone number as E.164 (`+5511999998888`), or why it is not one. Numbers without a country code
 * are read in `defaultRegion` (the tenant's country).
 */
export function normalizePhone(input: string, defaultRegion: string): { ok: true; e164: string } | { ok: false; reason: string } {
  const raw = input.trim();
  const region = defaultRegion.toUpperCase();
  if (!raw) return { ok: false, reason: 'phone is empty' };
  if (!/^[+\d\s().-]+$/.test(raw)) return { ok: false, reason: 'phone may only contain digits, spaces, +, -, ( and )' };
  const parsed = parsePhoneNumberFromString(raw, region as CountryCode);
  if (!parsed) return { ok: false, reason: `not a phone number (read as ${region} when it has no country code)` };
  if (!parsed.isValid()) {
    // A number given with its country code is judged in that country, not the tenant's.
    const where = parsed.country ?? (raw.startsWith('+') ? `+${parsed.countryCallingCode}` : region);
    return { ok: false, reason: `not a valid ${where} phone number` };
  }
  return { ok: true, e164: parsed.number };
}
