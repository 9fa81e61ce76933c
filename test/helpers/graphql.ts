import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { type ExecutionResult, print } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';

export interface HttpResult<R> extends ExecutionResult<R> {
  status: number;
}

/** POSTs a typed document to /graphql with `key` as the bearer token (none when null). */
export async function gql<R, V>(
  baseUrl: string,
  key: string | null,
  document: TypedDocumentNode<R, V>,
  ...[variables]: V extends Record<string, never> ? [] | [V] : [V]
): Promise<HttpResult<R>> {
  const res = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const body = (await res.json()) as ExecutionResult<R>;
  return { ...body, status: res.status };
}

/** Like gql, but fails the test on any GraphQL error and returns data. */
export async function gqlOk<R, V>(
  baseUrl: string,
  key: string | null,
  document: TypedDocumentNode<R, V>,
  ...variables: V extends Record<string, never> ? [] | [V] : [V]
): Promise<R> {
  const result = await gql(baseUrl, key, document, ...variables);
  if (result.errors?.length || !result.data) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors ?? result)}`);
  return result.data;
}

export interface WsHandle {
  client: Client;
  closed: Promise<{ code: number; reason: string }>;
}

export function wsClient(baseUrl: string, key: string | null): WsHandle {
  let onClosed: (v: { code: number; reason: string }) => void = () => undefined;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (onClosed = resolve));
  const client = createClient({
    url: `${baseUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: key ? { authorization: `Bearer ${key}` } : {},
    retryAttempts: 0,
    lazy: true,
    on: {
      closed: (event) => {
        const e = event as { code: number; reason: string };
        onClosed({ code: e.code, reason: String(e.reason) });
      },
    },
  });
  return { client, closed };
}

/** Collects a subscription's events until `until` says stop (or the timeout). */
export async function collect<R, V>(
  handle: WsHandle,
  document: TypedDocumentNode<R, V>,
  variables: V,
  until: (events: R[]) => boolean,
  timeoutMs = 30_000,
): Promise<{ events: R[]; errors: unknown[] }> {
  const events: R[] = [];
  const errors: unknown[] = [];
  const iterator = handle.client.iterate({ query: print(document), variables: variables as Record<string, unknown> });
  const timer = setTimeout(() => void iterator.return?.(), timeoutMs);
  try {
    for await (const result of iterator) {
      if (result.errors) errors.push(...result.errors);
      if (result.data) events.push(result.data as R);
      if (errors.length || until(events)) break;
    }
  } catch (err) {
    errors.push(err);
  } finally {
    clearTimeout(timer);
    await iterator.return?.();
  }
  return { events, errors };
}
