import { z } from 'zod';
import { prisma } from '../../infra/db/client.js';
import { normalizePhone } from '../../domain/phone.js';
import type { ConsentSource, Prisma } from '../../generated/prisma/client.js';
import { changeConsent } from './consent.js';

/** Where the opt-ins of an input come from. */
export interface ConsentOrigin {
  source: ConsentSource;
  detail: Prisma.InputJsonValue;
}

/** One contact as given by a client (GraphQL list, JSON or CSV import), before validation. */
export interface ContactRowInput {
  phone?: unknown;
  name?: unknown;
  email?: unknown;
  tags?: unknown;
  customFields?: unknown;
  timezone?: unknown;
  referredBy?: unknown;
  /** Consent given: true opts the contact in (recorded with the input's source); false or absent changes nothing. */
  optIn?: unknown;
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
// Building an Intl.DateTimeFormat costs tens of microseconds: an import checks each zone once.
const zoneChecks = new Map<string, boolean>();
const validZone = (tz: string) => {
  let ok = zoneChecks.get(tz);
  if (ok === undefined) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      ok = true;
    } catch {
      ok = false;
    }
    if (zoneChecks.size < 10_000) zoneChecks.set(tz, ok);
  }
  return ok;
};

const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const rowSchema = z.object({
  name: z.string().trim().max(200).nullish(),
  email: z.preprocess((v) => (typeof v === 'string' ? v.trim() || null : v), z.email('not a valid email address').nullish()),
  tags: z.array(tag).max(100).nullish(),
  customFields: z
    .record(z.string(), z.unknown())
    .superRefine((fields, ctx) => {
      const bad = Object.keys(fields).find((k) => !FIELD_NAME.test(k));
      if (bad !== undefined) ctx.addIssue({ code: 'custom', message: `custom field "${bad}": names are letters, digits and _` });
    })
    .nullish(),
  timezone: z.string().refine(validZone, 'not an IANA time zone (e.g. America/Sao_Paulo)').nullish(),
  referredBy: z.string().trim().max(200).nullish(),
});
type RowFields = z.output<typeof rowSchema>;

const EMAIL = z.regexes.email;

const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (!v || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/** Trimmed text of at most `max` characters, null/undefined as they are; `false` when not plain valid text. */
function text(v: unknown, max: number): string | null | undefined | false {
  if (v === undefined || v === null) return v;
  if (typeof v !== 'string') return false;
  const t = v.trim();
  return t.length <= max ? t : false;
}

/**
 * rowSchema's rules checked by hand for the common, valid row (zod costs several microseconds a row,
 * which a 100k-row import feels). Anything it does not accept goes to rowSchema, which names the
 * problem exactly as before, so this may only ever accept what rowSchema accepts, with the same output.
 */
function quickRow(input: ContactRowInput): RowFields | undefined {
  const name = text(input.name, 200);
  const referredBy = text(input.referredBy, 200);
  if (name === false || referredBy === false) return undefined;
  let email: string | null | undefined = input.email as null | undefined;
  if (input.email !== undefined && input.email !== null) {
    if (typeof input.email !== 'string') return undefined;
    email = input.email.trim() || null;
    if (email !== null && !EMAIL.test(email)) return undefined;
  }
  let tags: string[] | null | undefined = input.tags as null | undefined;
  if (input.tags !== undefined && input.tags !== null) {
    if (!Array.isArray(input.tags) || input.tags.length > 100) return undefined;
    tags = new Array<string>(input.tags.length);
    for (let i = 0; i < input.tags.length; i++) {
      const t = text(input.tags[i], 64);
      if (typeof t !== 'string' || t === '') return undefined;
      tags[i] = t;
    }
  }
  const customFields = input.customFields;
  if (customFields !== undefined && customFields !== null) {
    if (!isPlainObject(customFields)) return undefined;
    for (const k in customFields) if (!FIELD_NAME.test(k)) return undefined;
  }
  const timezone = input.timezone;
  if (timezone !== undefined && timezone !== null && (typeof timezone !== 'string' || !validZone(timezone))) return undefined;
  return { name, email, tags, customFields: customFields as RowFields['customFields'], timezone: timezone as RowFields['timezone'], referredBy };
}

/** A contact's columns as written (the JSON document a chunk's statement reads). */
interface ContactValues {
  phone: string;
  name: string | null;
  email: string | null;
  tags: string[];
  custom_fields: Record<string, unknown>;
  timezone: string | null;
  referred_by: string | null;
}

interface CleanRow {
  row: number;
  values: ContactValues;
  optIn: boolean;
}

const YES = new Set(['true', 'yes', 'y', 'sim', 's', '1', 'x']);
const NO = new Set(['false', 'no', 'n', 'não', 'nao', '0']);

/** An opt-in cell: true, false, or undefined when it is not a yes or a no. */
function consentValue(v: unknown): boolean | null | undefined {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v === 1 ? true : v === 0 ? false : undefined;
  if (typeof v !== 'string') return undefined;
  const t = v.trim().toLowerCase();
  return YES.has(t) ? true : NO.has(t) ? false : undefined;
}

// PostgreSQL text cannot hold NUL, and an unpaired surrogate cannot reach it through JSON: a row with
// either would fail the statement of every row written with it.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');

function storable(value: unknown): boolean {
  if (typeof value === 'string') return !UNSTORABLE.test(value);
  if (Array.isArray(value)) return value.every(storable);
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) if (!storable(k) || !storable(v)) return false;
  }
  return true;
}

/** The input shown in a report (which an import stores): text, with anything unstorable as U+FFFD. */
function show(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return UNSTORABLE.test(text) ? text.replace(UNSTORABLE_ALL, '\ufffd') : text;
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
  let d = quickRow(input);
  if (!d) {
    const parsed = rowSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0] as z.core.$ZodIssue;
      const field = String(issue.path[0] ?? 'row');
      return fail(field, issue.message, (input as Record<string, unknown>)[field]);
    }
    d = parsed.data;
  }
  const optIn = consentValue(input.optIn);
  if (optIn === undefined) return fail('optIn', 'yes or no (true/false, sim/não, 1/0)', input.optIn);
  const unstorable = !storable(d.name) ? 'name' : !storable(d.tags) ? 'tags' : !storable(d.customFields) ? 'customFields' : !storable(d.referredBy) ? 'referredBy' : null;
  if (unstorable) return fail(unstorable, 'contains a NUL character or an unpaired surrogate, which cannot be stored', input[unstorable]);
  return {
    row,
    values: {
      phone: phone.e164,
      name: d.name || null,
      email: d.email ?? null,
      tags: d.tags?.length ? [...new Set([...d.tags, ...extraTags])] : extraTags,
      custom_fields: d.customFields ?? {},
      timezone: d.timezone ?? null,
      referred_by: d.referredBy || null,
    },
    optIn: optIn === true,
  };
}

/** Rows validated and de-duplicated, ready for `writeContactRows`. */
export interface PreparedRows {
  /** Rows already decided: failed, or skipped as a duplicate of an earlier row. */
  results: RowResult[];
  clean: CleanRow[];
}

/**
 * Validates and normalises rows (no I/O). A phone seen twice in one input is taken once (the first
 * row); the later rows are skipped as duplicates.
 */
export function prepareContactRows(
  rows: Array<{ row: number; input: ContactRowInput }>,
  options: {
    region: string;
    addTags?: string[];
    /** Phones already taken by earlier rows of the same input (an import in steps). */
    seenPhones?: Map<string, number>;
  },
): PreparedRows {
  const results: RowResult[] = [];
  const firstRowOf = options.seenPhones ?? new Map<string, number>();
  // Rows without tags of their own share this array: it is only ever serialised.
  const addTags = [...new Set(options.addTags ?? [])];
  const clean: CleanRow[] = [];
  for (const { row, input } of rows) {
    const c = cleanRow(row, input, options.region, addTags);
    if ('status' in c) {
      results.push(c);
      continue;
    }
    const first = firstRowOf.get(c.values.phone);
    if (first !== undefined) {
      results.push({ row, status: 'SKIPPED', contactId: null, phone: c.values.phone, field: 'phone', reason: `duplicate of row ${first} in this input`, input: show(input.phone) });
      continue;
    }
    firstRowOf.set(c.values.phone, row);
    clean.push(c);
  }
  return { results, clean };
}

const CHUNK = 5000;

/**
 * Creates or merges prepared rows in set-based statements (one per chunk of 5,000 rows) and returns
 * every row's result, in row order.
 * - SKIP: an existing contact is left as it is.
 * - UPDATE: given fields overwrite, tags are added, custom fields merged.
 * - REPLACE: the contact becomes exactly the row (tags and custom fields replaced).
 */
export async function writeContactRows(
  tenantId: string,
  prepared: PreparedRows,
  strategy: MergeStrategy,
  /** Custom field names already recorded on the tenant by earlier steps of the same input. */
  knownKeys?: Set<string>,
  /** Where an opt-in of these rows comes from (consent_event). */
  consent: ConsentOrigin = { source: 'API', detail: {} },
): Promise<RowResult[]> {
  const results = prepared.results.slice();
  const { clean } = prepared;
  const keys = new Set<string>();
  for (const c of clean) for (const k in c.values.custom_fields) if (!knownKeys?.has(k)) keys.add(k);

  for (let i = 0; i < clean.length; i += CHUNK) {
    const chunk = clean.slice(i, i + CHUNK);
    const written = await writeChunk(tenantId, chunk, strategy);
    const optedIn = chunk.flatMap((c) => (c.optIn ? [written.get(c.values.phone)?.id ?? []].flat() : []));
    if (optedIn.length) await changeConsent(prisma, tenantId, optedIn, 'OPT_IN', consent.source, consent.detail);
    for (const c of chunk) {
      const { phone } = c.values;
      const w = written.get(phone);
      results.push(
        w
          ? { row: c.row, status: w.inserted ? 'CREATED' : 'UPDATED', contactId: w.id, phone, field: null, reason: null, input: null }
          : { row: c.row, status: 'SKIPPED', contactId: null, phone, field: null, reason: 'contact exists (strategy SKIP)', input: null },
      );
    }
  }
  if (keys.size > 0) {
    await prisma.$executeRaw`
      UPDATE tenant SET custom_field_keys = ARRAY(SELECT DISTINCT k FROM unnest(custom_field_keys || ${[...keys]}::text[]) AS k ORDER BY k)
      WHERE id = ${tenantId}::uuid AND NOT (custom_field_keys @> ${[...keys]}::text[])`;
    for (const k of keys) knownKeys?.add(k);
  }
  return results.sort((a, b) => a.row - b.row);
}

/**
 * Creates or merges contacts: invalid rows are reported and never stop the valid ones; a phone seen
 * twice in one input is taken once (see `prepareContactRows` and `writeContactRows`).
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
    consent?: ConsentOrigin;
  },
): Promise<RowResult[]> {
  return writeContactRows(tenantId, prepareContactRows(rows, options), options.strategy, undefined, options.consent);
}

async function writeChunk(tenantId: string, chunk: CleanRow[], strategy: MergeStrategy) {
  // Rows as JSON arrays rather than objects: half the bytes for Prisma to pass on and PostgreSQL to parse.
  const json = JSON.stringify(
    chunk.map(({ values: v }) => [v.phone, v.name, v.email, v.tags, v.custom_fields, v.timezone, v.referred_by]),
  );
  type Written = { id: string; phone: string; inserted: boolean };
  let rows: Written[];
  const insert = `
    INSERT INTO contact (tenant_id, phone, name, email, tags, custom_fields, timezone, referred_by, updated_at)
    SELECT $1::uuid, r->>0, r->>1, r->>2, ARRAY(SELECT t FROM jsonb_array_elements_text(r->3) WITH ORDINALITY AS e(t, i) ORDER BY i),
           r->4, r->>5, r->>6, now()
    FROM jsonb_array_elements($2::jsonb) AS x(r)`;
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
