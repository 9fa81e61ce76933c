import type { IncomingMessage, ServerResponse } from 'node:http';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { z } from 'zod';
import { AUTH_MESSAGES, authenticateApiKey } from '../../features/auth/api-keys.js';
import { bearerToken } from '../../features/auth/bearer-token.js';
import { config } from '../../infra/config/index.js';
import { AppError, ConflictError, ValidationError } from '../../domain/errors.js';
import { BodyTooLargeError, closeAfter, readBody } from '../../infra/lib/http-body.js';
import type { Logger } from '../../infra/lib/logger.js';
import { jobId } from '../../infra/queues/definitions.js';
import { enqueue } from '../../infra/queues/index.js';
import { unstorableText } from '../schema/input-issues.js';
import { type ImportInput, importContacts } from '../../features/contacts/import.js';
import { tagSchema } from '../../features/contacts/upsert.js';

/**
 * POST /imports/contacts: a contact file too large for a GraphQL request (those are capped at
 * GRAPHQL_MAX_BODY_BYTES), sent as the body itself, up to IMPORT_MAX_BODY_BYTES. The same import as the
 * importContacts mutation, with its options in the query string:
 *
 *   curl -H "Authorization: Bearer $KEY" -H 'content-type: text/csv' --data-binary @contacts.csv \
 *     'http://127.0.0.1:4000/imports/contacts?strategy=UPDATE&tags=bf,2026&idempotencyKey=list-42'
 *
 * `format` is CSV or JSON (from the content type when left out); `columns` is the CsvColumnMapping as
 * JSON. Answers 202 with the import (follow it with importProgress) when it runs in the background,
 * 200 with its report when it finished at once; 400 with every bad parameter, 401, 403, 409, 413, 415.
 */

const columnsSchema = z
  .object({
    phone: z.string().optional(),
    name: z.string().optional(),
    email: z.string().optional(),
    tags: z.string().optional(),
    timezone: z.string().optional(),
    referredBy: z.string().optional(),
    optIn: z.string().optional(),
    customFields: z.array(z.object({ column: z.string(), field: z.string() })).optional(),
  })
  .strict();

const paramsSchema = z
  .object({
    format: z.enum(['CSV', 'JSON']).optional(),
    strategy: z.enum(['SKIP', 'UPDATE', 'REPLACE']).default('UPDATE'),
    tags: z
      .string()
      .transform((v) => v.split(',').map((t) => t.trim()).filter(Boolean))
      .pipe(z.array(tagSchema).max(50))
      .optional(),
    groupTag: tagSchema.optional(),
    delimiter: z.string().length(1).optional(),
    idempotencyKey: z.string().min(1).max(200).optional(),
    columns: z
      .string()
      .transform((v, ctx) => {
        try {
          return JSON.parse(v) as unknown;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'must be a JSON object (CsvColumnMapping)' });
          return z.NEVER;
        }
      })
      .pipe(columnsSchema)
      .optional(),
  })
  .strict();

function answer(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function refuse(res: ServerResponse, status: number, code: string, message: string, extra: Record<string, unknown> = {}) {
  answer(res, status, { error: { code, message, ...extra } });
}

function formatFromContentType(value: string | undefined): 'CSV' | 'JSON' | null {
  const type = (value ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/json') return 'JSON';
  if (type === 'text/csv' || type === 'text/plain' || type === 'application/csv') return 'CSV';
  return null;
}

export async function handleContactImport(req: IncomingMessage, res: ServerResponse, log: Logger, access?: { tenantId?: string }): Promise<void> {
  try {
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return refuse(res, 405, 'METHOD_NOT_ALLOWED', 'POST the contact file');
    }
    const auth = await authenticateApiKey(bearerToken(req.headers.authorization));
    if (!auth.ok) return refuse(res, 401, 'UNAUTHENTICATED', AUTH_MESSAGES[auth.reason]);
    if (access) access.tenantId = auth.viewer.tenantId;
    if (auth.viewer.role === 'VIEWER') return refuse(res, 403, 'FORBIDDEN', 'the VIEWER role may not import contacts');

    const query = Object.fromEntries(new URL(req.url ?? '/', 'http://local').searchParams);
    const params = paramsSchema.safeParse(query);
    const issues = params.success ? [] : params.error.issues.map((i) => ({ path: ['query', ...i.path.map(String)], message: i.message }));
    const fromType = formatFromContentType(req.headers['content-type']);
    const format = (params.success ? params.data.format : undefined) ?? fromType;
    if (!format) return refuse(res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'send text/csv or application/json, or say format=CSV|JSON');
    if (issues.length) return refuse(res, 400, 'VALIDATION', issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), { issues });

    let data: string;
    try {
      data = (await readBody(req, config.importMaxBodyBytes)).toString('utf8');
    } catch (err) {
      if (!(err instanceof BodyTooLargeError)) throw err;
      if (!err.drained) closeAfter(res);
      return refuse(res, 413, 'PAYLOAD_TOO_LARGE', `the file is larger than ${config.importMaxBodyBytes} bytes`);
    }
    if (data.length === 0) return refuse(res, 400, 'VALIDATION', 'body: the file is empty', { issues: [{ path: ['body'], message: 'the file is empty' }] });
    const p = params.data as z.infer<typeof paramsSchema>;
    const input: ImportInput = {
      format,
      data,
      strategy: p.strategy,
      tags: p.tags ?? null,
      groupTag: p.groupTag ?? null,
      delimiter: p.delimiter ?? null,
      idempotencyKey: p.idempotencyKey ?? null,
      columns: p.columns ?? null,
    };
    const unstorable = unstorableText({ groupTag: input.groupTag, tags: input.tags, columns: input.columns, idempotencyKey: input.idempotencyKey }, ['query']);
    if (unstorable.length) return refuse(res, 400, 'VALIDATION', unstorable.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), { issues: unstorable });

    const tenantId = auth.viewer.tenantId;
    const record = await importContacts(tenantId, input, async (importId) => {
      await enqueue('imports', 'contacts:import', { tenantId, importId }, { jobId: jobId('import', importId) });
    });
    const background = record.status === 'PENDING' || record.status === 'RUNNING';
    log.info({ tenantId, importId: record.id, bytes: Buffer.byteLength(data), status: record.status }, 'contact file received');
    answer(res, background ? 202 : 200, {
      import: {
        id: encodeGlobalID('ContactImport', record.id),
        status: record.status,
        totalRows: record.totalRows,
        processedRows: record.processedRows,
        created: record.createdCount,
        updated: record.updatedCount,
        skipped: record.skippedCount,
        failed: record.failedCount,
        failures: ((record.failures ?? []) as unknown[]).slice(0, 100),
        error: record.error,
      },
    });
  } catch (err) {
    if (err instanceof ValidationError) return refuse(res, 400, 'VALIDATION', err.message, { issues: err.issues.map((i) => ({ path: i.path.map(String), message: i.message })) });
    if (err instanceof ConflictError) return refuse(res, 409, 'CONFLICT', err.message, { field: err.field });
    if (err instanceof AppError) return refuse(res, 400, err.name, err.message);
    log.error({ err }, 'contact import failed');
    if (!res.headersSent) refuse(res, 500, 'INTERNAL_SERVER_ERROR', 'the import could not be started; try again');
  }
}
