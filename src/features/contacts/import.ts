import { createHash } from 'node:crypto';
import { prisma } from '../../infra/db/client.js';
import { ConflictError } from '../../domain/errors.js';
import { Prisma } from '../../generated/prisma/client.js';
import { publish } from '../../infra/realtime/pubsub.js';
import { type ColumnMapping, countCsvRows, type ParsedRows, parseCsv, parseJson } from './import-parse.js';
import { tenantRegion } from './service.js';
import { type MergeStrategy, prepareContactRows, type RowResult, writeContactRows } from './upsert.js';

/**
 * Contact imports from CSV or JSON. Every row is reported (created, updated, skipped, or failed with
 * its row number, field and reason); a bad row never stops the good ones. Small inputs are imported
 * at once; larger ones by a worker, in chunks, with progress events. Retrying with the same
 * idempotency key returns the first import instead of importing again. Reading the CSV or JSON into
 * rows is import-parse.ts.
 */
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
  // Read now: a malformed document or mapping is refused at once, with nothing written. A large CSV
  // is only counted here; the worker reads it again anyway.
  let parsed: ParsedRows | null = null;
  let total: number;
  if (input.format === 'CSV') {
    total = await countCsvRows(input.data, input.columns, input.delimiter);
    if (total <= INLINE_ROWS) parsed = await parseCsv(input.data, input.columns, input.delimiter);
  } else {
    parsed = parseJson(input.data);
    total = parsed.rows.length + parsed.unreadable.length;
  }
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
  if (background || !parsed) {
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

/**
 * Background imports write and report progress in steps: about 20 of them, of 1,000 to 5,000 rows
 * (a statement per 1,000 rows costs a 100k-row import more than its progress events are worth).
 */
const MIN_STEP = 1000;
const MAX_STEP = 5000;

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
  const total = parsed.rows.length + parsed.unreadable.length;
  const background = total > INLINE_ROWS;
  const step = background ? Math.min(MAX_STEP, Math.max(MIN_STEP, Math.ceil(total / 20))) : Math.max(1, parsed.rows.length);
  // A phone repeated across steps is still a duplicate: one map of phones seen for the whole input.
  const seen = new Map<string, number>();
  const knownKeys = new Set<string>();
  let processed = parsed.unreadable.length;
  const report = async (results: RowResult[], size: number) => {
    tally(results);
    processed += size;
    if (background && processed < total) {
      // updateMany: an update would send the whole stored payload back on every step.
      await prisma.contactImport.updateMany({
        where: { id: record.id },
        data: { processedRows: processed, createdCount: counts.created, updatedCount: counts.updated, skippedCount: counts.skipped, failedCount: counts.failed },
      });
      await publish('import:progress', { tenantId: record.tenantId, importId: record.id });
    }
  };
  // One step is validated while the one before it is written, and its progress reported while the
  // next is written: Node's work and the database's overlap. Steps are written one at a time, in order.
  let writing: { size: number; results: Promise<RowResult[]> } | undefined;
  try {
    for (let i = 0; i < parsed.rows.length; i += step) {
      const slice = parsed.rows.slice(i, i + step);
      const prepared = prepareContactRows(slice, { region, addTags, seenPhones: seen });
      const previous = writing;
      const written = previous ? await previous.results : [];
      writing = { size: slice.length, results: writeContactRows(record.tenantId, prepared, record.strategy, knownKeys, { source: 'IMPORT', detail: { importId: record.id } }) };
      writing.results.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
      if (previous) await report(written, previous.size);
    }
    if (writing) await report(await writing.results, writing.size);
  } finally {
    // Failing mid-way: the import is marked failed only once no write of it is still running.
    await writing?.results.catch(() => undefined);
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
