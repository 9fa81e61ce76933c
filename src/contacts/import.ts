import { createHash } from 'node:crypto';
import { parse } from 'csv-parse';
import { prisma } from '../db/client.js';
import { ConflictError, ValidationError } from '../errors.js';
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
const CHUNK = 5000;
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

function fieldName(header: string): string {
  const n = header
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return /^[a-z_]/.test(n) ? n : `f_${n}`;
}

function splitTags(value: string): string[] {
  return value
    .split(/[,;|]/)
    .map((t) => t.trim())
    .filter(Boolean);
}

/** Parses CSV with a header row; unmapped columns become custom fields. Row numbers count data rows from 1. */
export async function parseCsv(data: string, mapping: ColumnMapping | null | undefined, delimiter?: string | null): Promise<ParsedRows> {
  const parser = parse(data, {
    bom: true,
    delimiter: delimiter ?? [',', ';', '\t'],
    skip_empty_lines: true,
    trim: true,
    relax_quotes: true,
    skip_records_with_error: true,
    info: true,
  });
  const unreadable: RowResult[] = [];
  let headerLines = 1;
  parser.on('skip', (err: Error & { lines?: number }) => {
    const row = (err.lines ?? 0) - headerLines;
    unreadable.push({ row, status: 'FAILED', contactId: null, phone: null, field: 'row', reason: `unreadable CSV line: ${err.message}`, input: null });
  });
  const rows: ParsedRows['rows'] = [];
  let header: string[] | null = null;
  let columnOf: Record<string, number> = {};
  let custom: Array<{ index: number; field: string }> = [];
  for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    if (!header) {
      header = record;
      headerLines = info.lines;
      const lower = header.map((h) => h.trim().toLowerCase());
      const find = (key: keyof typeof ALIASES) => {
        const explicit = mapping?.[key];
        if (explicit) return lower.indexOf(explicit.trim().toLowerCase());
        return lower.findIndex((h) => ALIASES[key].includes(h));
      };
      columnOf = Object.fromEntries((Object.keys(ALIASES) as Array<keyof typeof ALIASES>).map((k) => [k, find(k)]));
      if (mapping?.phone && columnOf.phone === -1) throw ValidationError.field(['input', 'columns', 'phone'], `no column "${mapping.phone}" in the header`);
      if (columnOf.phone === -1) throw ValidationError.field(['input', 'data'], `no phone column: name it phone/telefone/celular or map it with columns.phone`);
      const used = new Set(Object.values(columnOf).filter((i) => i >= 0));
      if (mapping?.customFields?.length) {
        custom = mapping.customFields.map((m) => ({ index: lower.indexOf(m.column.trim().toLowerCase()), field: m.field }));
        const missing = custom.findIndex((c) => c.index < 0);
        if (missing >= 0) throw ValidationError.field(['input', 'columns', 'customFields', missing, 'column'], `no such column in the header`);
      } else {
        custom = header.map((h, index) => ({ index, field: fieldName(h) })).filter((c) => !used.has(c.index) && c.field);
      }
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
    rows.push({
      row: info.lines - headerLines,
      input: {
        phone: cell('phone'),
        name: cell('name'),
        email: cell('email'),
        tags: cell('tags') ? splitTags(cell('tags') as string) : undefined,
        timezone: cell('timezone'),
        referredBy: cell('referredBy'),
        customFields,
      },
    });
  }
  if (!header) throw ValidationError.field(['input', 'data'], 'the CSV is empty');
  return { rows, unreadable };
}

const KNOWN_KEYS = new Set(['phone', 'name', 'email', 'tags', 'customFields', 'timezone', 'referredBy']);

/** A JSON array of contacts; keys other than the contact's own go to its custom fields. */
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
    if (!item || typeof item !== 'object' || Array.isArray(item)) {
      unreadable.push({ row: i + 1, status: 'FAILED', contactId: null, phone: null, field: 'row', reason: 'each item must be an object', input: JSON.stringify(item) ?? null });
      return;
    }
    const o = item as Record<string, unknown>;
    const extra = Object.fromEntries(Object.entries(o).filter(([k]) => !KNOWN_KEYS.has(k)));
    const customFields = { ...extra, ...((o.customFields as Record<string, unknown> | undefined) ?? {}) };
    rows.push({ row: i + 1, input: { ...o, tags: typeof o.tags === 'string' ? splitTags(o.tags) : o.tags, customFields } });
  });
  return { rows, unreadable };
}

export function inputHash(input: ImportInput): string {
  const { idempotencyKey: _k, ...rest } = input;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex');
}

type ImportRow = Awaited<ReturnType<typeof prisma.contactImport.findUniqueOrThrow>>;

/** Starts an import (or returns the one already made with this idempotency key). */
export async function importContacts(tenantId: string, input: ImportInput, enqueue: (importId: string) => Promise<void>): Promise<ImportRow> {
  const hash = inputHash(input);
  if (input.idempotencyKey) {
    const existing = await prisma.contactImport.findUnique({ where: { tenantId_idempotencyKey: { tenantId, idempotencyKey: input.idempotencyKey } } });
    if (existing) {
      if ((existing.options as { hash?: string }).hash !== hash) {
        throw new ConflictError('this idempotency key was used for a different import', 'idempotencyKey');
      }
      return existing;
    }
  }
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
    // Two retries racing with the same key: the loser returns the winner's import.
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002' && input.idempotencyKey) {
      return prisma.contactImport.findUniqueOrThrow({ where: { tenantId_idempotencyKey: { tenantId, idempotencyKey: input.idempotencyKey } } });
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
  // A phone repeated across chunks is still a duplicate: dedupe over the whole input first.
  const seen = new Map<string, number>();
  let processed = parsed.unreadable.length;
  for (let i = 0; i < parsed.rows.length; i += CHUNK) {
    const chunk = parsed.rows.slice(i, i + CHUNK);
    const results = await upsertContactRows(record.tenantId, chunk, {
      strategy: record.strategy,
      region,
      addTags,
      seenPhones: seen,
    });
    tally(results);
    processed += chunk.length;
    if (parsed.rows.length > CHUNK) {
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
