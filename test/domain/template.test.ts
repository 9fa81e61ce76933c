import { describe, expect, it } from 'vitest';
import { checkTemplate, greeting, renderTemplate } from '../../src/domain/template.js';

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
