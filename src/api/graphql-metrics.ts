import { type DocumentNode, getOperationAST, Kind } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { graphqlOperationSeconds, graphqlSubscriptionsActive } from '../infra/metrics/registry.js';

/**
 * Operation names are chosen by clients: the first MAX_OPERATION_NAMES distinct ones a process sees
 * are labels, later ones count as `other` and unnamed operations as `anonymous`, so no client can grow
 * the series without bound (there is no list of persisted operations to check names against).
 */
const MAX_OPERATION_NAMES = 100;
const NAME = /^[_A-Za-z][_0-9A-Za-z]{0,63}$/;
const seenNames = new Set<string>();

export function operationLabel(name: string | undefined): string {
  if (!name) return 'anonymous';
  if (seenNames.has(name)) return name;
  if (seenNames.size >= MAX_OPERATION_NAMES || !NAME.test(name)) return 'other';
  seenNames.add(name);
  return name;
}

/** The root field a subscription operation selects (bounded by the schema), or `unknown`. */
export function subscriptionField(document: DocumentNode, operationName?: string | null): string {
  const op = getOperationAST(document, operationName ?? undefined);
  const field = op?.selectionSet.selections[0];
  return field?.kind === Kind.FIELD ? field.name.value : 'unknown';
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

/** A subscription's stream that counts itself open in wc_graphql_subscriptions_active until it ends, however it ends. */
class CountedStream<T> implements AsyncIterableIterator<T> {
  private open = true;
  constructor(
    private readonly inner: AsyncIterator<T>,
    private readonly field: string,
  ) {
    graphqlSubscriptionsActive.inc({ field });
  }
  private end() {
    if (!this.open) return;
    this.open = false;
    graphqlSubscriptionsActive.dec({ field: this.field });
  }
  async next(): Promise<IteratorResult<T>> {
    try {
      const r = await this.inner.next();
      if (r.done) this.end();
      return r;
    } catch (err) {
      this.end();
      throw err;
    }
  }
  // Not async generators: their return() waits for a pending next(), which a quiet subscription never settles.
  return(value?: unknown): Promise<IteratorResult<T>> {
    this.end();
    return this.inner.return ? this.inner.return(value) : Promise.resolve({ done: true, value: undefined });
  }
  throw(err?: unknown): Promise<IteratorResult<T>> {
    this.end();
    return this.inner.throw ? this.inner.throw(err) : Promise.reject(err);
  }
  [Symbol.asyncIterator]() {
    return this;
  }
}

/** Counts a subscription's stream (a result that is not a stream, a refusal, is returned as it is). */
export function trackSubscription<R>(field: string, result: R): R {
  if (!isAsyncIterable(result)) return result;
  return new CountedStream(result[Symbol.asyncIterator](), field) as unknown as R;
}

/**
 * Times each executed query and mutation (wc_graphql_operation_duration_seconds; answers from the
 * response cache are not executed and not timed) and counts subscriptions made over HTTP (SSE).
 * Subscriptions over graphql-ws are counted per client by the WebSocket server (server.ts): a shared
 * stream runs one subscription here for many clients.
 */
export function graphqlMetricsPlugin(): Plugin<Record<string, unknown>> {
  return {
    onExecute({ args }) {
      const op = getOperationAST(args.document, args.operationName ?? undefined);
      if (!op) return;
      const started = performance.now();
      const operation = operationLabel(op.name?.value);
      return {
        onExecuteDone({ result }) {
          const failed = !isAsyncIterable(result) && (result.errors?.length ?? 0) > 0;
          graphqlOperationSeconds.observe({ operation, type: op.operation, result: failed ? 'error' : 'ok' }, (performance.now() - started) / 1000);
        },
      };
    },
    onSubscribe({ args }) {
      if ((args.contextValue as { socket?: unknown }).socket) return;
      const field = subscriptionField(args.document, args.operationName);
      return {
        onSubscribeResult({ result }) {
          if (!isAsyncIterable(result)) return;
          graphqlSubscriptionsActive.inc({ field });
          let ended = false;
          return {
            onEnd() {
              if (ended) return;
              ended = true;
              graphqlSubscriptionsActive.dec({ field });
            },
          };
        },
      };
    },
  };
}
