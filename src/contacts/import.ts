import { createHash } from 'node:crypto';
import { parse } from 'csv-parse';
import { prisma } from '../db/client.js';
import { ConflictError, type FieldIssue, ValidationError } from '../errors.js';
import { Prisma } from '../generated/prisma/client.js';
import { publish } from '../realtime/pubsub.js';
import { tenantRegion } from './service.js';
import { type ContactRowInput, type MergeStrategy, type RowResult, upsertContactRows } from './upsert.js';

/**
 * Contact imports from CSV or JSON. Every row is reported (created, updated, skipped, or failed with
 * its row number, field and reason); a bad row never stops the good ones. Small inputs are imported
 * at once; larger ones by a worker, in chunks, with progress events. Retrying with the same
 * idempotency key returns the first import instead of importing again.
 */
export interface ColumnMapping {
  phone?: string | null;
  name?: string | null;
  email?: string | null;
  tags?: string | null;
  timezone?: string | null;
  referredBy?: string | null;
  customFields?: Array<{ column: string; field: string }> | null;
}

export interface ImportInput {
  format: 'CSV' | 'JSON';
  data: string;
  strategy?: MergeStrategy | null;
  tags?: string[] | null;
  groupTag?: string | null;
  columns?: ColumnMapping | null;
  delimiter?: string | null;
  idempotencyKey?: string | null;
}

/** Imports up to this many rows answer with the finished report; larger ones run in the background. */
export const INLINE_ROWS = 2000;
const MAX_FAILURES_KEPT = 10_000;

const ALIASES: Record<keyof Omit<ColumnMapping, 'customFields'>, string[]> = {
  phone: ['phone', 'telefone', 'celular', 'whatsapp', 'numero', 'número', 'mobile'],
  name: ['name', 'nome', 'full_name', 'nome_completo'],
  email: ['email', 'e-mail'],
  tags: ['tags', 'etiquetas'],
  timezone: ['timezone', 'fuso', 'fuso_horario', 'time_zone'],
  referredBy: ['referred_by', 'referredby', 'quem_indicou', 'indicado_por'],
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

/** Parses CSV with a header row; unmapped columns become custom fields. Row numbers count data rows from 1. */
export async function parseCsv(data: string, mapping: ColumnMapping | null | undefined, delimiter?: string | null): Promise<ParsedRows> {
  const parser = parse(data, {
    bom: true,
    delimiter: delimiter ?? detectDelimiter(data),
    skip_empty_lines: true,
    trim: true,
    relax_quotes: true,
    // A row may leave out empty trailing cells; a row with more cells than the header is refused.
    relax_column_count_less: true,
    skip_records_with_error: true,
    info: true,
    raw: true,
  });
  const unreadable: RowResult[] = [];
  let headerLines = 1;
  parser.on('skip', (err: Error & { lines?: number; raw?: string }) => {
    const row = (err.lines ?? 0) - headerLines;
    const raw = err.raw?.replace(/\r?\n$/, '') ?? null;
    unreadable.push({
      row,
      status: 'FAILED',
      contactId: null,
      phone: null,
      field: 'row',
      reason: `unreadable CSV line: ${err.message}`,
      input: raw && raw.length > MAX_INPUT_SHOWN ? `${raw.slice(0, MAX_INPUT_SHOWN)}…` : raw,
    });
  });
  const rows: ParsedRows['rows'] = [];
  let header: string[] | null = null;
  let columnOf: Record<string, number> = {};
  let custom: Array<{ index: number; field: string }> = [];
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (!header) {
        header = record;
        headerLines = info.lines;
        ({ columnOf, custom } = mapHeader(header, mapping));
        continue;
      }
      const cell = (key: string) => {
        const i = columnOf[key] ?? -1;
        const v = i >= 0 ? record[i] : undefined;
        return v === undefined || v === '' ? undefined : v;
      };
      const customFields: Record<string, unknown> = {};
      for (const c of custom) {
        const v = record[c.index];
        if (v !== undefined && v !== '') customFields[c.field] = v;
      }
      const tags = cell('tags');
      rows.push({
        row: info.lines - headerLines,
        input: {
          phone: cell('phone'),
          name: cell('name'),
          email: cell('email'),
          tags: tags ? splitTags(tags) : undefined,
          timezone: cell('timezone'),
          referredBy: cell('referredBy'),
          customFields,
        },
      });
    }
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    throw ValidationError.field(['input', 'data'], `unreadable CSV: ${(err as Error).message}`);
  }
  if (!header) throw ValidationError.field(['input', 'data'], 'the CSV is empty');
  return { rows, unreadable };
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

const KNOWN_KEYS = new Set(['phone', 'name', 'email', 'tags', 'customFields', 'timezone', 'referredBy']);

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

/** What makes two imports the same: everything but the key, with absent and empty options alike. */
export function inputHash(input: ImportInput): string {
  const canonical = {
    format: input.format,
    data: input.data,
    strategy: input.strategy ?? 'UPDATE',
    tags: input.tags?.length ? input.tags : null,
    groupTag: input.groupTag ?? null,
    columns: input.columns ?? null,
    delimiter: input.delimiter ?? null,
  };
  return createHash('sha256')
    .update(JSON.stringify(canonical, (_k, v) => (v === null || (Array.isArray(v) && v.length === 0) ? undefined : v)))
    .digest('hex');
}

type ImportRow = Awaited<ReturnType<typeof prisma.contactImport.findUniqueOrThrow>>;

/** Starts an import (or returns the one already made with this idempotency key). */
export async function importContacts(tenantId: string, input: ImportInput, enqueue: (importId: string) => Promise<void>): Promise<ImportRow> {
  const hash = inputHash(input);
  const earlier = async () => {
    if (!input.idempotencyKey) return null;
    const existing = await prisma.contactImport.findUnique({ where: { tenantId_idempotencyKey: { tenantId, idempotencyKey: input.idempotencyKey } } });
    if (!existing) return null;
    if ((existing.options as { hash?: string }).hash !== hash) {
      throw new ConflictError('this idempotency key was used for a different import', 'idempotencyKey');
    }
    // The first attempt may have stored the import and died before queueing it: queue it (once, by job id).
    if (existing.status === 'PENDING') await enqueue(existing.id);
    return existing;
  };
  const existing = await earlier();
  if (existing) return existing;
  // Parse now: a malformed document or mapping is refused at once, with nothing written.
  const parsed = input.format === 'CSV' ? await parseCsv(input.data, input.columns, input.delimiter) : parseJson(input.data);
  const total = parsed.rows.length + parsed.unreadable.length;
  const options = {
    hash,
    tags: input.tags ?? [],
    groupTag: input.groupTag ?? null,
    columns: input.columns ?? null,
    delimiter: input.delimiter ?? null,
  } as Prisma.InputJsonValue;
  const background = total > INLINE_ROWS;
  let record: ImportRow;
  try {
    record = await prisma.contactImport.create({
      data: {
        tenantId,
        idempotencyKey: input.idempotencyKey ?? null,
        format: input.format,
        strategy: input.strategy ?? 'UPDATE',
        options,
        payload: background ? input.data : null,
        totalRows: total,
        status: background ? 'PENDING' : 'RUNNING',
        startedAt: background ? null : new Date(),
      },
    });
  } catch (err) {
    // Two attempts racing with the same key: the loser answers as a retry would.
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002' && input.idempotencyKey) {
      const winner = await earlier();
      if (winner) return winner;
    }
    throw err;
  }
  if (background) {
    await enqueue(record.id);
    return record;
  }
  return runImport(record, parsed);
}

/** The worker's part: parses the stored payload and imports it in chunks, publishing progress. */
export async function processImport(tenantId: string, importId: string): Promise<ImportRow> {
  const claimed = await prisma.contactImport.updateMany({
    where: { id: importId, tenantId, status: { in: ['PENDING', 'RUNNING'] } },
    data: { status: 'RUNNING', startedAt: new Date() },
  });
  const record = await prisma.contactImport.findFirstOrThrow({ where: { id: importId, tenantId } });
  if (claimed.count === 0 || !record.payload) return record;
  await publish('import:progress', { tenantId, importId });
  const o = record.options as { columns?: ColumnMapping | null; delimiter?: string | null };
  try {
    const parsed = record.format === 'CSV' ? await parseCsv(record.payload, o.columns, o.delimiter) : parseJson(record.payload);
    return await runImport(record, parsed);
  } catch (err) {
    const failed = await prisma.contactImport.update({
      where: { id: importId },
      data: { status: 'FAILED', error: (err as Error).message, finishedAt: new Date(), payload: null },
    });
    await publish('import:progress', { tenantId, importId });
    return failed;
  }
}

/** Background imports report progress after every this many rows. */
const PROGRESS_EVERY = 1000;

async function runImport(record: ImportRow, parsed: ParsedRows): Promise<ImportRow> {
  const o = record.options as { tags?: string[]; groupTag?: string | null };
  const addTags = [...(o.tags ?? []), ...(o.groupTag ? [o.groupTag] : [])];
  const region = await tenantRegion(record.tenantId);
  const counts = { created: 0, updated: 0, skipped: 0, failed: 0 };
  const failures: Array<Omit<RowResult, 'contactId' | 'status'>> = [];
  const tally = (results: RowResult[]) => {
    for (const r of results) {
      counts[r.status.toLowerCase() as keyof typeof counts]++;
      if (r.status === 'FAILED' && failures.length < MAX_FAILURES_KEPT) failures.push({ row: r.row, phone: r.phone, field: r.field, reason: r.reason, input: r.input });
    }
  };
  tally(parsed.unreadable);
  const background = parsed.rows.length + parsed.unreadable.length > INLINE_ROWS;
  const step = background ? PROGRESS_EVERY : Math.max(1, parsed.rows.length);
  // A phone repeated across steps is still a duplicate: one map of phones seen for the whole input.
  const seen = new Map<string, number>();
  let processed = parsed.unreadable.length;
  for (let i = 0; i < parsed.rows.length; i += step) {
    const slice = parsed.rows.slice(i, i + step);
    tally(await upsertContactRows(record.tenantId, slice, { strategy: record.strategy, region, addTags, seenPhones: seen }));
    processed += slice.length;
    if (background && processed < record.totalRows) {
      await prisma.contactImport.update({
        where: { id: record.id },
        data: { processedRows: processed, createdCount: counts.created, updatedCount: counts.updated, skippedCount: counts.skipped, failedCount: counts.failed },
      });
      await publish('import:progress', { tenantId: record.tenantId, importId: record.id });
    }
  }
  failures.sort((a, b) => a.row - b.row);
  const done = await prisma.contactImport.update({
    where: { id: record.id },
    data: {
      status: 'COMPLETED',
      processedRows: processed,
      createdCount: counts.created,
      updatedCount: counts.updated,
      skippedCount: counts.skipped,
      failedCount: counts.failed,
      failures: failures as Prisma.InputJsonValue,
      payload: null,
      finishedAt: new Date(),
    },
  });
  await publish('import:progress', { tenantId: record.tenantId, importId: record.id });
  return done;
}
