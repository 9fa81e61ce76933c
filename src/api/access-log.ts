import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type DocumentNode, type ExecutionResult, type GraphQLError, getOperationAST, Kind } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../infra/lib/logger.js';
import { runInOperationScope } from './operation-scope.js';

// Access logs: one line per HTTP request ("http request") and one per GraphQL operation ("graphql
// operation"). Neither carries a URL, a header or a variable: the route is a bounded pattern (the
// webhook URL's path holds the instance's secret), the operation is named by its name, type and
// root fields.

/** A client's x-request-id is kept when it looks like an id (a UUID, a trace id); otherwise one is made. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

/** Routes polled by load balancers and Prometheus: logged at debug while they answer below 400. */
const PROBES = new Set(['/health', '/ready', '/metrics', '/health/workers']);

interface OperationState {
  started: number;
  name: string | null;
  type: string | null;
  fields: string[];
  typedErrors: string[];
}

export interface AccessRecord {
  requestId: string;
  /** The route's pattern; the router sets it ('unmatched' for anything else). */
  route: string;
  tenantId?: string;
  operation?: OperationState;
}

const records = new WeakMap<IncomingMessage, AccessRecord>();

/** The access record of a request being served (null for one that did not come through the server). */
export function accessOf(req: unknown): AccessRecord | null {
  return req ? (records.get(req as IncomingMessage) ?? null) : null;
}

/**
 * Starts the access record of a request: takes or makes its request id, returns it in the
 * response's x-request-id header, and logs one line when the response is finished or abandoned.
 */
export function startAccess(req: IncomingMessage, res: ServerResponse, log: Logger): AccessRecord {
  const started = performance.now();
  const record: AccessRecord = { requestId: requestIdFrom(req.headers['x-request-id']), route: 'unmatched' };
  records.set(req, record);
  // Handlers downstream (yoga's context, the webhook route) read the id from here.
  req.headers['x-request-id'] = record.requestId;
  res.setHeader('x-request-id', record.requestId);
  let logged = false;
  const done = () => {
    if (logged) return;
    logged = true;
    const status = res.statusCode;
    const line = {
      requestId: record.requestId,
      method: req.method,
      route: record.route,
      status,
      ms: Math.round((performance.now() - started) * 10) / 10,
      ...(record.tenantId ? { tenantId: record.tenantId } : {}),
      ...(res.writableFinished ? {} : { aborted: true }),
    };
    if (status >= 500) log.error(line, 'http request');
    else if (PROBES.has(record.route) && status < 400) log.debug(line, 'http request');
    else log.info(line, 'http request');
  };
  res.once('finish', done);
  res.once('close', done);
  return record;
}

function describeOperation(document: DocumentNode, operationName: string | null | undefined) {
  const op = getOperationAST(document, operationName ?? undefined);
  return {
    name: op?.name?.value ?? operationName ?? null,
    type: op?.operation ?? null,
    fields: (op?.selectionSet.selections ?? [])
      .flatMap((s) => (s.kind === Kind.FIELD ? [s.name.value] : []))
      .slice(0, 10),
  };
}

interface Outcome {
  result: 'ok' | 'error';
  errors?: string[];
  errorIds?: string[];
  level: 'info' | 'warn' | 'error';
}

/** ok, or the error codes of a result: GraphQL errors and typed error results alike. */
function outcomeOf(errors: readonly GraphQLError[] | undefined, typedErrors: string[]): Outcome {
  const codes = [...(errors ?? []).map((e) => String(e.extensions?.code ?? 'GRAPHQL_ERROR')), ...typedErrors];
  if (codes.length === 0) return { result: 'ok', level: 'info' };
  const errorIds = (errors ?? []).flatMap((e) => (typeof e.extensions?.errorId === 'string' ? [e.extensions.errorId] : []));
  const unique = [...new Set(codes)];
  // Server errors were logged with their stack under the same errorId when they were masked.
  const serverError = unique.includes('INTERNAL_SERVER_ERROR') || errorIds.length > 0;
  return { result: 'error', errors: unique, ...(errorIds.length ? { errorIds } : {}), level: serverError ? 'error' : 'warn' };
}

function logOperation(log: Logger, fields: Record<string, unknown>, op: OperationState, outcome: Outcome) {
  const { level, ...rest } = outcome;
  log[level]({ ...fields, operation: op.name, type: op.type, fields: op.fields, ...rest, ms: Math.round((performance.now() - op.started) * 10) / 10 }, 'graphql operation');
}

/**
 * The GraphQL operation lines of requests over HTTP (yoga's request pipeline). Typed errors are
 * collected while the operation executes (src/api/operation-scope.ts).
 */
export function operationLogPlugin(log: Logger): Plugin {
  return {
    onParams({ context, params }) {
      const record = accessOf((context as { req?: unknown }).req);
      if (record) record.operation = { started: performance.now(), name: params.operationName ?? null, type: null, fields: [], typedErrors: [] };
    },
    onParse({ context }) {
      const op = accessOf((context as { req?: unknown }).req)?.operation;
      if (!op) return;
      return ({ result }) => {
        if (result && (result as DocumentNode).kind === Kind.DOCUMENT) Object.assign(op, describeOperation(result as DocumentNode, op.name));
      };
    },
    onExecute({ args, executeFn, setExecuteFn }) {
      const op = accessOf((args.contextValue as { req?: unknown }).req)?.operation;
      if (op) setExecuteFn((a) => runInOperationScope(op, () => executeFn(a)));
    },
    onSubscribe({ args, subscribeFn, setSubscribeFn }) {
      const op = accessOf((args.contextValue as { req?: unknown }).req)?.operation;
      if (op) setSubscribeFn((a) => runInOperationScope(op, () => subscribeFn(a)));
    },
    onResultProcess({ result, serverContext }) {
      const record = accessOf((serverContext as { req?: unknown }).req);
      const op = record?.operation;
      if (!record || !op) return;
      record.operation = undefined;
      const fields = { requestId: record.requestId, ...(record.tenantId ? { tenantId: record.tenantId } : {}), transport: 'http' };
      const results = Array.isArray(result) ? result : [result];
      for (const r of results) {
        // A subscription or a deferred result streams: logged when it starts.
        const errors = Symbol.asyncIterator in (r as object) ? undefined : (r as ExecutionResult).errors;
        logOperation(log, fields, op, outcomeOf(errors, op.typedErrors));
      }
    },
  };
}

/** The line of an operation over WebSocket (graphql-ws), when it started or was refused. */
export function logWsOperation(
  log: Logger,
  payload: { query: string; operationName?: string | null },
  document: DocumentNode | null,
  context: { requestId?: string; viewer?: { tenantId: string } } | null,
  started: number,
  errors: readonly GraphQLError[] | undefined,
) {
  const op: OperationState = { started, name: payload.operationName ?? null, type: null, fields: [], typedErrors: [] };
  if (document) Object.assign(op, describeOperation(document, payload.operationName));
  const fields = { ...(context?.requestId ? { requestId: context.requestId } : {}), ...(context?.viewer ? { tenantId: context.viewer.tenantId } : {}), transport: 'ws' };
  logOperation(log, fields, op, outcomeOf(errors, []));
}
