import { z } from 'zod';
import { prisma } from '../db/client.js';
import { normalizePhone } from '../domain/phone.js';

/** One contact as given by a client (GraphQL list, JSON or CSV import), before validation. */
export interface ContactRowInput {
  phone?: unknown;
  name?: unknown;
  email?: unknown;
  tags?: unknown;
  customFields?: unknown;
  timezone?: unknown;
  referredBy?: unknown;
}

export type MergeStrategy = 'SKIP' | 'UPDATE' | 'REPLACE';

export interface RowResult {
  /** 1-based position in the input (for CSV: the data row, header excluded). */
  row: number;
  status: 'CREATED' | 'UPDATED' | 'SKIPPED' | 'FAILED';
  contactId: string | null;
  phone: string | null;
  field: string | null;
  reason: string | null;
  input: string | null;
}

export const tagSchema = z.string().trim().min(1, 'a tag is not empty').max(64, 'a tag has at most 64 characters');
const tag = tagSchema;
const validZone = (tz: string) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

const rowSchema = z.object({
  name: z.string().trim().max(200).nullish(),
  email: z.preprocess((v) => (typeof v === 'string' ? v.trim() || null : v), z.email('not a valid email address').nullish()),
  tags: z.array(tag).max(100).nullish(),
  customFields: z
    .record(z.string(), z.unknown())
    .superRefine((fields, ctx) => {
      const bad = Object.keys(fields).find((k) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k));
      if (bad !== undefined) ctx.addIssue({ code: 'custom', message: `custom field "${bad}": names are letters, digits and _` });
    })
    .nullish(),
  timezone: z.string().refine(validZone, 'not an IANA time zone (e.g. America/Sao_Paulo)').nullish(),
  referredBy: z.string().trim().max(200).nullish(),
});

interface CleanRow {
  row: number;
  phone: string;
  name: string | null;
  email: string | null;
  tags: string[];
  custom_fields: Record<string, unknown>;
  timezone: string | null;
  referred_by: string | null;
}

function show(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Validates and normalises one row; an invalid row names its field, reason and input. */
export function cleanRow(row: number, input: ContactRowInput, region: string, extraTags: string[]): CleanRow | RowResult {
  const fail = (field: string, reason: string, value: unknown): RowResult => ({
    row,
    status: 'FAILED',
    contactId: null,
    phone: null,
    field,
    reason,
    input: show(value),
  });
  if (input.phone === undefined || input.phone === null || input.phone === '') return fail('phone', 'phone is required', input.phone);
  if (typeof input.phone !== 'string' && typeof input.phone !== 'number') return fail('phone', 'phone must be text or a number', input.phone);
  const phone = normalizePhone(String(input.phone), region);
  if (!phone.ok) return fail('phone', phone.reason, input.phone);
  const parsed = rowSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as z.core.$ZodIssue;
    const field = String(issue.path[0] ?? 'row');
    return fail(field, issue.message, (input as Record<string, unknown>)[field]);
  }
  const d = parsed.data;
  return {
    row,
    phone: phone.e164,
    name: d.name || null,
    email: d.email ?? null,
    tags: [...new Set([...(d.tags ?? []), ...extraTags])],
    custom_fields: d.customFields ?? {},
    timezone: d.timezone ?? null,
    referred_by: d.referredBy || null,
  };
}

const CHUNK = 5000;

/**
 * Creates or merges contacts in set-based statements (one per chunk of 5,000 rows). Invalid rows are
 * reported and never stop the valid ones. A phone seen twice in one input is taken once (the first
 * row); the later rows are reported as skipped duplicates.
 * - SKIP: an existing contact is left as it is.
 * - UPDATE: given fields overwrite, tags are added, custom fields merged.
 * - REPLACE: the contact becomes exactly the row (tags and custom fields replaced).
 */
export async function upsertContactRows(
  tenantId: string,
  rows: Array<{ row: number; input: ContactRowInput }>,
  options: {
    strategy: MergeStrategy;
    region: string;
    addTags?: string[];
    /** Phones already taken by earlier calls of the same input (an import in chunks). */
    seenPhones?: Map<string, number>;
  },
): Promise<RowResult[]> {
  const results: RowResult[] = [];
  const firstRowOf = options.seenPhones ?? new Map<string, number>();
  const clean: CleanRow[] = [];
  for (const { row, input } of rows) {
    const c = cleanRow(row, input, options.region, options.addTags ?? []);
    if ('status' in c) {
      results.push(c);
      continue;
    }
    const first = firstRowOf.get(c.phone);
    if (first !== undefined) {
      results.push({ row, status: 'SKIPPED', contactId: null, phone: c.phone, field: 'phone', reason: `duplicate of row ${first} in this input`, input: show(input.phone) });
      continue;
    }
    firstRowOf.set(c.phone, row);
    clean.push(c);
  }

  const keys = new Set<string>();
  for (const c of clean) for (const k of Object.keys(c.custom_fields)) keys.add(k);

  for (let i = 0; i < clean.length; i += CHUNK) {
    const chunk = clean.slice(i, i + CHUNK);
    const written = await writeChunk(tenantId, chunk, options.strategy);
    for (const c of chunk) {
      const w = written.get(c.phone);
      results.push(
        w
          ? { row: c.row, status: w.inserted ? 'CREATED' : 'UPDATED', contactId: w.id, phone: c.phone, field: null, reason: null, input: null }
          : { row: c.row, status: 'SKIPPED', contactId: null, phone: c.phone, field: null, reason: 'contact exists (strategy SKIP)', input: null },
      );
    }
  }
  if (keys.size > 0) {
    await prisma.$executeRaw`
      UPDATE tenant SET custom_field_keys = ARRAY(SELECT DISTINCT k FROM unnest(custom_field_keys || ${[...keys]}::text[]) AS k ORDER BY k)
      WHERE id = ${tenantId}::uuid AND NOT (custom_field_keys @> ${[...keys]}::text[])`;
  }
  return results.sort((a, b) => a.row - b.row);
}

async function writeChunk(tenantId: string, chunk: CleanRow[], strategy: MergeStrategy) {
  const json = JSON.stringify(chunk.map(({ row: _row, ...c }) => c));
  type Written = { id: string; phone: string; inserted: boolean };
  let rows: Written[];
  const source = `jsonb_to_recordset($2::jsonb) AS x(phone text, name text, email text, tags text[], custom_fields jsonb, timezone text, referred_by text)`;
  const insert = `
    INSERT INTO contact (tenant_id, phone, name, email, tags, custom_fields, timezone, referred_by, updated_at)
    SELECT $1::uuid, x.phone, x.name, x.email, COALESCE(x.tags, '{}'), COALESCE(x.custom_fields, '{}'), x.timezone, x.referred_by, now()
    FROM ${source}`;
  if (strategy === 'SKIP') {
    rows = await prisma.$queryRawUnsafe<Written[]>(`${insert} ON CONFLICT (tenant_id, phone) DO NOTHING RETURNING id, phone, true AS inserted`, tenantId, json);
  } else if (strategy === 'UPDATE') {
    rows = await prisma.$queryRawUnsafe<Written[]>(
      `${insert} ON CONFLICT (tenant_id, phone) DO UPDATE SET
         name = COALESCE(EXCLUDED.name, contact.name),
         email = COALESCE(EXCLUDED.email, contact.email),
         tags = ARRAY(SELECT DISTINCT t FROM unnest(contact.tags || EXCLUDED.tags) AS t ORDER BY t),
         custom_fields = contact.custom_fields || EXCLUDED.custom_fields,
         timezone = COALESCE(EXCLUDED.timezone, contact.timezone),
         referred_by = COALESCE(EXCLUDED.referred_by, contact.referred_by),
         updated_at = now()
       RETURNING id, phone, (xmax = 0) AS inserted`,
      tenantId,
      json,
    );
  } else {
    rows = await prisma.$queryRawUnsafe<Written[]>(
      `${insert} ON CONFLICT (tenant_id, phone) DO UPDATE SET
         name = EXCLUDED.name, email = EXCLUDED.email, tags = EXCLUDED.tags, custom_fields = EXCLUDED.custom_fields,
         timezone = EXCLUDED.timezone, referred_by = EXCLUDED.referred_by, updated_at = now()
       RETURNING id, phone, (xmax = 0) AS inserted`,
      tenantId,
      json,
    );
  }
  return new Map(rows.map((r) => [r.phone, r]));
}
