import { parse } from 'csv-parse';
import { type FieldIssue, ValidationError } from '../../domain/errors.js';
import type { ContactRowInput, RowResult } from './upsert.js';

/**
 * Reading a contact import: CSV (with a header row, its delimiter detected, read by hand when it is
 * plain and by csv-parse otherwise) or a JSON array, into numbered rows of contact input. Which column
 * holds what comes from the mapping or the usual header names; other columns become custom fields.
 */

/** The header of the column holding each contact field, where the usual names will not do. */
export interface ColumnMapping {
  phone?: string | null;
  name?: string | null;
  email?: string | null;
  tags?: string | null;
  timezone?: string | null;
  referredBy?: string | null;
  /** A yes/no column: yes opts the contact in (source IMPORT). */
  optIn?: string | null;
  customFields?: Array<{ column: string; field: string }> | null;
}

const ALIASES: Record<keyof Omit<ColumnMapping, 'customFields'>, string[]> = {
  phone: ['phone', 'telefone', 'celular', 'whatsapp', 'numero', 'número', 'mobile'],
  name: ['name', 'nome', 'full_name', 'nome_completo'],
  email: ['email', 'e-mail'],
  tags: ['tags', 'etiquetas'],
  timezone: ['timezone', 'fuso', 'fuso_horario', 'time_zone'],
  referredBy: ['referred_by', 'referredby', 'quem_indicou', 'indicado_por'],
  optIn: ['opt_in', 'optin', 'consent', 'consentimento', 'aceite'],
};

export interface ParsedRows {
  rows: Array<{ row: number; input: ContactRowInput }>;
  /** Rows that could not even be read (malformed CSV line, JSON item not an object). */
  unreadable: RowResult[];
}

const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A column header or JSON key as a custom field name: lower case, accents dropped, `_` between words. */
export function fieldName(header: string): string {
  const n = header
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (!n) return '';
  return /^[a-z_]/.test(n) ? n : `f_${n}`;
}

function splitTags(value: string): string[] {
  return value
    .split(/[,;|]/)
    .map((t) => t.trim())
    .filter(Boolean);
}

/**
 * The delimiter of the header line (comma, semicolon or tab, whichever it has most of outside quotes).
 * One delimiter for the whole file: a `;` inside a comma-separated cell (a list of tags) stays text.
 */
export function detectDelimiter(data: string): string {
  const firstLine = data.replace(/^\uFEFF/, '').split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  const counts = new Map<string, number>([[',', 0], [';', 0], ['\t', 0]]);
  let quoted = false;
  for (const ch of firstLine) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && counts.has(ch)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  }
  let best = ',';
  for (const [d, n] of counts) if (n > (counts.get(best) ?? 0)) best = d;
  return best;
}

const MAX_INPUT_SHOWN = 500;

/** Receives a CSV document's header, records and unreadable lines, each with the line it ends on. */
interface CsvSink {
  header(cells: string[], line: number): void;
  record(cells: string[], line: number): void;
  skip(line: number, reason: string, raw: string | null): void;
}

/**
 * Reads CSV the way csv-parse reads it with the options of `readCsv`, by hand, when the document has
 * no quote, well-formed text and one kind of line break: most exports are like that, and this is
 * several times faster than csv-parse (which also counts every line for us). `false` when it does not apply.
 */
export function readPlainCsv(data: string, delimiter: string, sink: CsvSink): boolean {
  if (delimiter.length !== 1 || '"\r\n'.includes(delimiter) || data.includes('"') || !wellFormed(data)) return false;
  const text = data.charCodeAt(0) === 0xfeff ? data.slice(1) : data;
  let eol = '\n';
  if (text.includes('\r')) {
    // csv-parse takes the first line break as the only one; a file that mixes them goes to it.
    const crlf = occurrences(text, '\r\n');
    if (occurrences(text, '\r') !== crlf || occurrences(text, '\n') !== crlf) return false;
    eol = '\r\n';
  }
  const lines = text.split(eol);
  let width = -1;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    // skip_empty_lines with trim: a line of only white space is empty, unless it holds a delimiter.
    if (!line.includes(delimiter) && line.trim() === '') continue;
    const cells = line.split(delimiter);
    for (let j = 0; j < cells.length; j++) cells[j] = (cells[j] as string).trim();
    if (width < 0) {
      width = cells.length;
      sink.header(cells, i + 1);
    } else if (cells.length > width) {
      sink.skip(i + 1, `Invalid Record Length: expect ${width}, got ${cells.length} on line ${i + 1}`, line);
    } else {
      sink.record(cells, i + 1);
    }
  }
  return true;
}

// csv-parse reads the text as UTF-8, which turns a lone surrogate into U+FFFD; such text goes to it.
const wellFormed = (text: string) => (text as string & { isWellFormed(): boolean }).isWellFormed();

function occurrences(text: string, part: string) {
  let n = 0;
  for (let i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + part.length)) n++;
  return n;
}

/**
 * Reads a CSV document into `sink`. A malformed line is skipped (reported through `sink.skip`); a
 * row may leave out empty trailing cells; a row with more cells than the header is refused.
 */
export async function readCsv(data: string, delimiter: string, sink: CsvSink, options: { plain?: boolean } = {}): Promise<void> {
  if (options.plain !== false && readPlainCsv(data, delimiter, sink)) return;
  const parser = parse(data, {
    bom: true,
    delimiter,
    skip_empty_lines: true,
    trim: true,
    relax_quotes: true,
    relax_column_count_less: true,
    skip_records_with_error: true,
    info: true,
    raw: true,
  });
  parser.on('skip', (err: Error & { lines?: number; raw?: string }) => {
    sink.skip(err.lines ?? 0, err.message, err.raw?.replace(/\r?\n$/, '') ?? null);
  });
  let header = false;
  for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    if (header) sink.record(record, info.lines);
    else {
      header = true;
      sink.header(record, info.lines);
    }
  }
}

/**
 * Parses CSV with a header row; unmapped columns become custom fields. Row numbers count data rows
 * from 1. `plain: false` always uses csv-parse (tests compare both readings).
 */
export async function parseCsv(data: string, mapping: ColumnMapping | null | undefined, delimiter?: string | null, options: { plain?: boolean } = {}): Promise<ParsedRows> {
  const unreadable: RowResult[] = [];
  const rows: ParsedRows['rows'] = [];
  let headerLine = -1;
  let at = { phone: -1, name: -1, email: -1, tags: -1, timezone: -1, referredBy: -1, optIn: -1 };
  let custom: Array<{ index: number; field: string }> = [];
  const cell = (record: string[], i: number) => {
    const v = i >= 0 ? record[i] : undefined;
    return v === undefined || v === '' ? undefined : v;
  };
  const sink: CsvSink = {
    header(cells, line) {
      headerLine = line;
      let columnOf: Record<string, number>;
      ({ columnOf, custom } = mapHeader(cells, mapping));
      at = {
        phone: columnOf.phone ?? -1,
        name: columnOf.name ?? -1,
        email: columnOf.email ?? -1,
        tags: columnOf.tags ?? -1,
        timezone: columnOf.timezone ?? -1,
        referredBy: columnOf.referredBy ?? -1,
        optIn: columnOf.optIn ?? -1,
      };
    },
    record(record, line) {
      const customFields: Record<string, unknown> = {};
      for (const c of custom) {
        const v = record[c.index];
        if (v !== undefined && v !== '') customFields[c.field] = v;
      }
      const tags = cell(record, at.tags);
      rows.push({
        row: line - headerLine,
        input: {
          phone: cell(record, at.phone),
          name: cell(record, at.name),
          email: cell(record, at.email),
          tags: tags ? splitTags(tags) : undefined,
          timezone: cell(record, at.timezone),
          referredBy: cell(record, at.referredBy),
          optIn: cell(record, at.optIn),
          customFields,
        },
      });
    },
    skip(line, reason, raw) {
      unreadable.push({
        row: line - (headerLine < 0 ? 1 : headerLine),
        status: 'FAILED',
        contactId: null,
        phone: null,
        field: 'row',
        reason: `unreadable CSV line: ${reason}`,
        input: raw && raw.length > MAX_INPUT_SHOWN ? `${raw.slice(0, MAX_INPUT_SHOWN)}…` : raw,
      });
    },
  };
  await readCsvOrRefuse(data, delimiter ?? detectDelimiter(data), sink, options);
  if (headerLine < 0) throw ValidationError.field(['input', 'data'], 'the CSV is empty');
  return { rows, unreadable };
}

/** How many rows a CSV document has (read or not), after checking its header and mapping like `parseCsv`. */
export async function countCsvRows(data: string, mapping: ColumnMapping | null | undefined, delimiter?: string | null): Promise<number> {
  let header = false;
  let n = 0;
  await readCsvOrRefuse(data, delimiter ?? detectDelimiter(data), {
    header(cells) {
      header = true;
      mapHeader(cells, mapping);
    },
    record() {
      n++;
    },
    skip() {
      n++;
    },
  });
  if (!header) throw ValidationError.field(['input', 'data'], 'the CSV is empty');
  return n;
}

async function readCsvOrRefuse(data: string, delimiter: string, sink: CsvSink, options: { plain?: boolean } = {}) {
  // PostgreSQL cannot store NUL in text (the payload of a background import); a CSV with one is
  // usually UTF-16, where every other byte is NUL.
  const nul = data.indexOf('\u0000');
  if (nul >= 0) {
    const line = occurrences(data.slice(0, nul), '\n') + 1;
    throw ValidationError.field(['input', 'data'], `the CSV contains a NUL character (line ${line}): save it as UTF-8 text`);
  }
  try {
    await readCsv(data, delimiter, sink, options);
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    throw ValidationError.field(['input', 'data'], `unreadable CSV: ${(err as Error).message}`);
  }
}

/** Which column holds what: explicit mappings first, then the usual header names; the rest are custom fields. */
function mapHeader(header: string[], mapping: ColumnMapping | null | undefined) {
  const lower = header.map((h) => h.trim().toLowerCase());
  const indexOf = (name: string) => {
    const wanted = name.trim().toLowerCase();
    const i = lower.indexOf(wanted);
    return i >= 0 ? i : lower.findIndex((h) => fieldName(h) === fieldName(wanted));
  };
  const issues: FieldIssue[] = [];
  const columnOf: Record<string, number> = {};
  for (const key of Object.keys(ALIASES) as Array<keyof typeof ALIASES>) {
    const explicit = mapping?.[key];
    if (explicit) {
      columnOf[key] = indexOf(explicit);
      if (columnOf[key] < 0) issues.push({ path: ['input', 'columns', key], message: `no column "${explicit}" in the header (${header.join(', ')})` });
    } else {
      columnOf[key] = lower.findIndex((h) => ALIASES[key].includes(h) || ALIASES[key].includes(fieldName(h)));
    }
  }
  if (!mapping?.phone && columnOf.phone === -1) {
    issues.push({ path: ['input', 'data'], message: `no phone column in the header (${header.join(', ')}): name it phone/telefone/celular or map it with columns.phone` });
  }
  const used = new Set(Object.values(columnOf).filter((i) => i >= 0));
  const renamed = new Map<number, string>();
  mapping?.customFields?.forEach((m, i) => {
    const index = indexOf(m.column);
    if (index < 0) issues.push({ path: ['input', 'columns', 'customFields', i, 'column'], message: `no column "${m.column}" in the header` });
    else if (used.has(index)) issues.push({ path: ['input', 'columns', 'customFields', i, 'column'], message: `column "${m.column}" is already mapped to a contact field` });
    if (!FIELD_NAME.test(m.field)) issues.push({ path: ['input', 'columns', 'customFields', i, 'field'], message: 'custom field names are letters, digits and _' });
    if (index >= 0) renamed.set(index, m.field);
  });
  if (issues.length) throw new ValidationError(issues);
  const custom = header
    .map((h, index) => ({ index, field: renamed.get(index) ?? fieldName(h) }))
    .filter((c) => !used.has(c.index) && c.field);
  return { columnOf, custom };
}

const KNOWN_KEYS = new Set(['phone', 'name', 'email', 'tags', 'customFields', 'timezone', 'referredBy', 'optIn']);

const isPlainObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** A JSON array of contacts; keys other than the contact's own go to its custom fields (names normalised as CSV headers). */
export function parseJson(data: string): ParsedRows {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch (err) {
    throw ValidationError.field(['input', 'data'], `not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw ValidationError.field(['input', 'data'], 'a JSON array of contacts');
  const rows: ParsedRows['rows'] = [];
  const unreadable: RowResult[] = [];
  parsed.forEach((item, i) => {
    if (!isPlainObject(item)) {
      const shown = JSON.stringify(item) ?? null;
      unreadable.push({ row: i + 1, status: 'FAILED', contactId: null, phone: null, field: 'row', reason: 'each item must be an object', input: shown });
      return;
    }
    const extra = Object.fromEntries(
      Object.entries(item)
        .filter(([k]) => !KNOWN_KEYS.has(k))
        .map(([k, v]) => [fieldName(k), v] as const)
        .filter(([k]) => k !== ''),
    );
    // A customFields that is not an object is passed on as it is, so that the row fails naming it.
    const customFields = item.customFields === undefined || item.customFields === null ? extra : isPlainObject(item.customFields) ? { ...extra, ...item.customFields } : item.customFields;
    rows.push({ row: i + 1, input: { ...item, tags: typeof item.tags === 'string' ? splitTags(item.tags) : item.tags, customFields } });
  });
  return { rows, unreadable };
}
