/**
 * Message templates: `{{variable}}` or `{{variable|default}}`.
 *
 * Built-ins: nome (full name), primeiro_nome (first name), saudacao (Bom dia / Boa tarde / Boa noite
 * by the contact's local hour), dia_semana (weekday in Portuguese), quem_indicou (who referred the
 * contact), telefone. Any other name is a custom field of the contact. Unknown names are reported by
 * `templateVariables` so they can be refused at save time rather than rendered blank.
 */
import { DateTime } from 'luxon';

export const BUILTIN_VARIABLES = ['nome', 'primeiro_nome', 'saudacao', 'dia_semana', 'quem_indicou', 'telefone'] as const;

const VARIABLE = /\{\{\s*([^{}|]*?)\s*(?:\|([^{}]*))?\}\}/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface TemplateVariable {
  name: string;
  default: string | null;
  /** The whole `{{…}}` as written. */
  raw: string;
}

export function templateVariables(text: string): TemplateVariable[] {
  return [...text.matchAll(VARIABLE)].map((m) => ({
    name: (m[1] ?? '').trim(),
    default: m[2] === undefined ? null : m[2].trim(),
    raw: m[0],
  }));
}

export interface TemplateProblem {
  variable: string;
  reason: string;
}

/**
 * Problems with a template: malformed names, and names that are neither built-in nor one of
 * `customFields` (unless they carry a default, which makes them safe to render).
 */
export function checkTemplate(text: string, customFields: Iterable<string>): TemplateProblem[] {
  const known = new Set<string>([...BUILTIN_VARIABLES, ...customFields]);
  const problems: TemplateProblem[] = [];
  for (const v of templateVariables(text)) {
    if (!NAME.test(v.name)) problems.push({ variable: v.raw, reason: 'a variable name is letters, digits and _' });
    else if (!known.has(v.name) && v.default === null)
      problems.push({
        variable: v.raw,
        reason: `unknown variable "${v.name}": not built-in (${BUILTIN_VARIABLES.join(', ')}) nor a custom field of any contact; add a default with {{${v.name}|…}}`,
      });
  }
  const opens = (text.match(/\{\{/g) ?? []).length;
  if (opens !== templateVariables(text).length) problems.push({ variable: '{{', reason: 'unclosed or nested {{' });
  return problems;
}

export interface TemplateContact {
  name: string | null;
  phone: string;
  referredBy: string | null;
  customFields: Record<string, unknown>;
  timezone: string;
}

const WEEKDAYS_PT = ['segunda-feira', 'terça-feira', 'quarta-feira', 'quinta-feira', 'sexta-feira', 'sábado', 'domingo'];

export function greeting(hour: number): string {
  if (hour >= 5 && hour < 12) return 'Bom dia';
  if (hour >= 12 && hour < 18) return 'Boa tarde';
  return 'Boa noite';
}

function stringify(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** A contact's local hour (0–23) and ISO weekday (1 = Monday … 7 = Sunday). */
interface LocalTime {
  hour: number;
  weekday: number;
}

/**
 * Local times by time zone for the current UTC minute. Every UTC offset in use is a whole number of
 * minutes and changes only on a minute boundary, so one zone's hour and weekday are the same for every
 * instant of a UTC minute: a campaign's sends in that minute compute each zone once (time-zone
 * arithmetic costs more than the rest of a rendering).
 */
const localTimes = { minute: Number.NaN, byZone: new Map<string, LocalTime>() };

export function localTimeAt(now: Date, timezone: string): LocalTime {
  const minute = Math.floor(now.getTime() / 60_000);
  if (minute !== localTimes.minute) {
    localTimes.minute = minute;
    localTimes.byZone.clear();
  }
  let t = localTimes.byZone.get(timezone);
  if (!t) {
    if (localTimes.byZone.size >= 1000) localTimes.byZone.clear();
    const local = DateTime.fromJSDate(now, { zone: timezone });
    const at = local.isValid ? local : DateTime.fromJSDate(now, { zone: 'UTC' });
    t = { hour: at.hour, weekday: at.weekday };
    localTimes.byZone.set(timezone, t);
  }
  return t;
}

/** The text this contact gets at `now`: every variable replaced, its default used when empty. */
export function renderTemplate(text: string, contact: TemplateContact, now: Date): string {
  const zoned = () => localTimeAt(now, contact.timezone);
  const builtins: Record<string, () => string> = {
    nome: () => contact.name?.trim() ?? '',
    primeiro_nome: () => contact.name?.trim().split(/\s+/)[0] ?? '',
    saudacao: () => greeting(zoned().hour),
    dia_semana: () => WEEKDAYS_PT[zoned().weekday - 1] ?? '',
    quem_indicou: () => contact.referredBy?.trim() ?? '',
    telefone: () => contact.phone,
  };
  return text.replace(VARIABLE, (_raw, rawName: string, fallback: string | undefined) => {
    const name = rawName.trim();
    const builtin = builtins[name];
    const value = builtin ? builtin() : stringify(contact.customFields[name]).trim();
    return value !== '' ? value : (fallback?.trim() ?? '');
  });
}
