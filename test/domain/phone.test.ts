import { describe, expect, it } from 'vitest';
import { normalizePhone } from '../../src/domain/phone.js';

describe('normalizePhone', () => {
  const ok: Array<[string, string, string]> = [
    ['+55 11 99999-0001', 'BR', '+5511999990001'],
    ['(11) 98888-0002', 'BR', '+5511988880002'],
    ['11977770003', 'BR', '+5511977770003'],
    ['5511966660004', 'BR', '+5511966660004'],
    ['  011 96666-0004 ', 'BR', '+5511966660004'],
    ['+55 11 3333-4444', 'br', '+551133334444'],
    ['912 345 678', 'PT', '+351912345678'],
    ['+55 11 99999-0001', 'PT', '+5511999990001'],
    ['(201) 555-0123', 'US', '+12015550123'],
  ];
  for (const [input, region, e164] of ok) {
    it(`reads ${input} in ${region} as ${e164}`, () => {
      expect(normalizePhone(input, region)).toEqual({ ok: true, e164 });
    });
  }

  const bad: Array<[string, string, string]> = [
    ['', 'BR', 'phone is empty'],
    ['   ', 'BR', 'phone is empty'],
    ['call me', 'BR', 'phone may only contain digits, spaces, +, -, ( and )'],
    ['+55 11 9999-000x', 'BR', 'phone may only contain digits, spaces, +, -, ( and )'],
    ['123', 'BR', 'not a valid BR phone number'],
    ['1', 'BR', 'not a phone number (read as BR when it has no country code)'],
    ['11 99999-0001', 'PT', 'not a valid PT phone number'],
    ['+1 555', 'BR', 'not a valid +1 phone number'],
  ];
  for (const [input, region, reason] of bad) {
    it(`refuses ${JSON.stringify(input)} in ${region}: ${reason}`, () => {
      expect(normalizePhone(input, region)).toEqual({ ok: false, reason });
    });
  }
});
