import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { checkTemplate, greeting, localTimeAt, renderTemplate } from '../../src/domain/template.js';

const contact = {
  name: 'Maria da Silva',
  phone: '+5511999998888',
  referredBy: 'João',
  customFields: { cidade: 'Campinas', pontos: 120 },
  timezone: 'America/Sao_Paulo',
};

describe('message templates', () => {
  it('renders names, greeting and weekday in the contact time zone', () => {
    // 2026-11-23 is a Monday; 12:30 UTC is 09:30 in São Paulo.
    const at = new Date('2026-11-23T12:30:00Z');
    expect(renderTemplate('{{saudacao}}, {{primeiro_nome}}! Boa {{dia_semana}}.', contact, at)).toBe('Bom dia, Maria! Boa segunda-feira.');
    expect(renderTemplate('{{nome}} indicada por {{quem_indicou}}', contact, at)).toBe('Maria da Silva indicada por João');
    expect(renderTemplate('{{ saudacao }}', { ...contact, timezone: 'Asia/Tokyo' }, at)).toBe('Boa noite');
  });

  it('renders custom fields and uses the default when a value is missing', () => {
    const at = new Date('2026-11-23T12:30:00Z');
    expect(renderTemplate('{{cidade}} tem {{pontos}} pontos', contact, at)).toBe('Campinas tem 120 pontos');
    expect(renderTemplate('Olá {{primeiro_nome|cliente}} de {{bairro|sua cidade}}', { ...contact, name: null }, at)).toBe('Olá cliente de sua cidade');
  });

  it('gives the local hour and weekday of every second around DST changes, half-hour zones and midnight, from its per-minute memo', () => {
    // [zone, an instant near one of its changes]: São Paulo's former DST end, New York and London
    // spring forward, Lord Howe's 30-minute shift, Kathmandu +05:45, Kolkata +05:30 at local midnight.
    const cases: Array<[string, string]> = [
      ['America/Sao_Paulo', '2019-02-17T02:00:00Z'],
      ['America/New_York', '2026-03-08T07:00:00Z'],
      ['Europe/London', '2026-03-29T01:00:00Z'],
      ['Australia/Lord_Howe', '2026-04-04T15:00:00Z'],
      ['Asia/Kathmandu', '2026-11-23T18:15:00Z'],
      ['Asia/Kolkata', '2026-11-23T18:30:00Z'],
    ];
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let checked = 0;
    for (const [zone, around] of cases) {
      const center = Date.parse(around);
      for (let minute = -90; minute <= 90; minute++) {
        // Seconds of one minute in a random order, other zones in between: the memo must not mix them.
        const seconds = Array.from({ length: 6 }, () => Math.floor(random() * 60_000));
        for (const ms of seconds) {
          const at = new Date(center + minute * 60_000 + ms);
          const expected = DateTime.fromJSDate(at, { zone });
          expect(localTimeAt(at, zone), `${zone} at ${at.toISOString()}`).toEqual({ hour: expected.hour, weekday: expected.weekday });
          expect(localTimeAt(at, 'UTC')).toEqual({ hour: at.getUTCHours(), weekday: ((at.getUTCDay() + 6) % 7) + 1 });
          checked++;
        }
      }
    }
    expect(checked).toBe(6 * 181 * 6);
    // An unknown zone renders in UTC (as before the memo).
    expect(localTimeAt(new Date('2026-11-23T12:30:00Z'), 'Not/AZone')).toEqual({ hour: 12, weekday: 1 });
  });

  it('greets by the local hour', () => {
    expect([4, 5, 11, 12, 17, 18, 23].map(greeting)).toEqual(['Boa noite', 'Bom dia', 'Bom dia', 'Boa tarde', 'Boa tarde', 'Boa noite', 'Boa noite']);
  });

  it('refuses unknown variables at save time, unless they carry a default', () => {
    expect(checkTemplate('Oi {{nome}} de {{cidade}}', ['cidade'])).toEqual([]);
    expect(checkTemplate('Oi {{apelido}}', ['cidade'])).toEqual([expect.objectContaining({ variable: '{{apelido}}' })]);
    expect(checkTemplate('Oi {{apelido|amigo}}', [])).toEqual([]);
    expect(checkTemplate('Oi {{1x}}', [])).toEqual([expect.objectContaining({ reason: expect.stringMatching(/letters, digits/) })]);
    expect(checkTemplate('Oi {{nome', [])).toEqual([expect.objectContaining({ reason: expect.stringMatching(/unclosed/) })]);
  });
});
