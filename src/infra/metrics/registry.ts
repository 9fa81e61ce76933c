import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * This process's metrics: what happened in it (sends, Evolution calls, webhooks, GraphQL), counted
 * where it happened. The API server and the worker each serve it at /metrics (src/infra/metrics/http.ts);
 * cluster-wide reads (queues, the inbox, stalled campaigns) are the API server's (src/api/metrics.ts).
 *
 * Every label value comes from a fixed set: no tenant, campaign, instance or phone is ever a label
 * (instance names are chosen by tenants, so there is no bound on them; `integration` stands in).
 * README "Metrics" lists them; docs/decisions.md says why.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

/** Where a send comes from. */
export type SendSource = 'campaign' | 'follow_up' | 'consent_reply';

/** Evolution answers from a few ms to EVOLUTION_TIMEOUT_MS (15 s) plus the typing presence. */
const EVOLUTION_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60];

export const sendsTotal = new Counter({
  name: 'wc_sends_total',
  help: 'Evolution send calls by where they came from, what Evolution answered (SendOutcome kind) and the instance integration.',
  labelNames: ['source', 'outcome', 'integration'] as const,
  registers: [registry],
});

export const evolutionRequestSeconds = new Histogram({
  name: 'wc_evolution_request_duration_seconds',
  help: 'Duration of Evolution send calls (including the typing presence Evolution holds them for) by endpoint and outcome kind.',
  labelNames: ['endpoint', 'outcome'] as const,
  buckets: EVOLUTION_BUCKETS,
  registers: [registry],
});

export const dispatchDeferralsTotal = new Counter({
  name: 'wc_dispatch_deferrals_total',
  help: 'Sends put off for later without calling Evolution (or refused by it for going too fast), by source and reason.',
  labelNames: ['source', 'reason'] as const,
  registers: [registry],
});

export const webhooksReceivedTotal = new Counter({
  name: 'wc_webhooks_received_total',
  help: 'Evolution webhook requests answered by the route, by event and result (accepted: durable in the inbox; ignored: 200 with nothing to do; rejected: 4xx; unavailable: 5xx).',
  labelNames: ['event', 'result'] as const,
  registers: [registry],
});

export const webhooksAppliedTotal = new Counter({
  name: 'wc_webhooks_applied_total',
  help: 'Webhook events taken from the inbox by this worker, by event and result (applied; retry: failed, tried again later; failed: kept in the inbox for an operator).',
  labelNames: ['event', 'result'] as const,
  registers: [registry],
});

export const webhookApplyLagSeconds = new Histogram({
  name: 'wc_webhook_apply_lag_seconds',
  help: 'From the webhook route receiving an event to a worker having applied it, by event.',
  labelNames: ['event'] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  registers: [registry],
});

export const graphqlOperationSeconds = new Histogram({
  name: 'wc_graphql_operation_duration_seconds',
  help: 'Execution time of GraphQL queries and mutations by operation name (bounded: see README), operation type and result (ok, error).',
  labelNames: ['operation', 'type', 'result'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const graphqlSubscriptionsActive = new Gauge({
  name: 'wc_graphql_subscriptions_active',
  help: 'GraphQL subscriptions open on this API server, by subscription field.',
  labelNames: ['field'] as const,
  registers: [registry],
});

/**
 * The reasons a send is put off that count as deferrals (send.ts's Tally and the follow-up job name
 * them); the other words of the Tally are outcomes (counted by wc_sends_total) or nothing to send.
 */
const DEFERRAL_REASONS = new Set(['rate-wait', 'window-closed', 'pace-timeout', 'stopped', 'gate-failed', 'phone-busy', 'throttled']);

/** Counts `n` sends put off for `reason` when it is a deferral; anything else is ignored. */
export function countDeferral(source: SendSource, reason: string, n = 1) {
  if (n > 0 && DEFERRAL_REASONS.has(reason)) dispatchDeferralsTotal.inc({ source, reason }, n);
}
