import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import type { WsHandle } from '../helpers/graphql.js';
import { waitFor } from '../helpers/stack.js';

/** A Relay global id, as the API encodes it. */
export function gid(type: string, id: string): string {
  return Buffer.from(`${type}:${id}`).toString('base64');
}

export interface Live<R> {
  events: R[];
  errors: unknown[];
  /** Resolves when `pred` holds for the events so far (fails on a subscription error or timeout). */
  until(pred: (events: R[]) => boolean, timeoutMs?: number): Promise<R[]>;
  stop(): Promise<void>;
}

/** Starts a subscription and keeps every event it delivers. */
export function live<R, V>(handle: WsHandle, document: TypedDocumentNode<R, V>, variables: V): Live<R> {
  const events: R[] = [];
  const errors: unknown[] = [];
  const iterator = handle.client.iterate({ query: print(document), variables: variables as Record<string, unknown> });
  const done = (async () => {
    try {
      for await (const result of iterator) {
        if (result.errors) errors.push(...result.errors);
        if (result.data) events.push(result.data as R);
      }
    } catch (err) {
      errors.push(err);
    }
  })();
  return {
    events,
    errors,
    async until(pred, timeoutMs = 20_000) {
      await waitFor(
        async () => {
          if (errors.length) throw new Error(`subscription failed: ${JSON.stringify(errors)}`);
          return pred(events);
        },
        timeoutMs,
        20,
      ).catch((err) => {
        throw new Error(`${(err as Error).message}; events so far: ${JSON.stringify(events).slice(0, 2000)}; errors: ${JSON.stringify(errors)}`);
      });
      return events;
    },
    async stop() {
      await iterator.return?.();
      await done;
    },
  };
}

/** Waits until the subscription ended with an error and returns it. */
export async function failure<R>(l: Live<R>, timeoutMs = 10_000): Promise<{ message: string; extensions?: { code?: string } }> {
  await waitFor(async () => l.errors.length > 0, timeoutMs, 20);
  return l.errors[0] as { message: string; extensions?: { code?: string } };
}
