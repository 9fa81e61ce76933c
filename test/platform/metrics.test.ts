import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { graphql } from '../gql/index.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { gql, gqlOk, wsClient } from '../helpers/graphql.js';
import { type Scrape, samplesOf, scrape, total } from '../helpers/metrics.js';
import { workerPort } from '../helpers/ports.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';
import { startWorker, type WorkerProcess } from '../helpers/worker-process.js';
import { insertContacts, newRunningCampaign, numbers, uuidOf } from '../dispatch/helpers.js';

const TOKEN = 'metrics-test-token-0123456789abcdef';

const MetricsCampaign = graphql(`
  query MetricsCampaign($id: ID!) {
    campaign(id: $id) { status counters { sent } }
  }
`);

const MetricsProgress = graphql(`
  subscription MetricsProgress($campaignId: ID!) {
    campaignProgress(campaignId: $campaignId) { status percentDone }
  }
`);

const digits = (phone: string) => phone.replace(/\D/g, '');

/**
 * The API server runs in this process and the worker in a process of its own, as deployed: each
 * serves its own /metrics, and what each counts is compared with what the simulator saw and what the
 * database holds.
 */
describe('Prometheus metrics', () => {
  let stack: Stack;
  let worker: WorkerProcess;
  let workerUrl: string;
  beforeAll(async () => {
    stack = await startStack({ workers: false, metricsToken: TOKEN, sim: { failureRate: 0.25, noReadRate: 0.5, seed: 23 } });
    const port = await workerPort(inject('portBase'), 5);
    worker = startWorker({ WORKER_METRICS_PORT: String(port), METRICS_TOKEN: TOKEN });
    workerUrl = `http://127.0.0.1:${port}`;
    await waitFor(async () => worker.output().includes('workers started'), 60_000);
  }, 120_000);
  afterAll(async () => {
    if (worker && worker.child.exitCode === null) worker.child.kill('SIGTERM');
    await worker?.exited;
    await stack?.close();
  });

  it('GET /metrics answers 401 without the token and 200 with it, on the API server and on the worker', async () => {
    for (const url of [stack.url, workerUrl]) {
      const none = await fetch(`${url}/metrics`);
      expect(none.status).toBe(401);
      expect(await none.text()).not.toContain('wc_');
      expect((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer not-the-token' } })).status).toBe(401);
      const ok = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      await ok.text();
    }
    // The worker serves nothing else.
    expect((await fetch(`${workerUrl}/graphql`)).status).toBe(404);

    const api = await scrape(stack.url, TOKEN);
    const work = await scrape(workerUrl, TOKEN);
    // Default process metrics on both; cluster-wide reads only on the API server.
    for (const s of [api, work]) expect(samplesOf(s, 'process_cpu_user_seconds_total')).toHaveLength(1);
    expect(samplesOf(api, 'wc_queue_jobs', { queue: 'sends', state: 'waiting' })).toHaveLength(1);
    expect(samplesOf(work, 'wc_queue_jobs')).toHaveLength(0);
    expect(api.types.get('wc_sends_total')).toBe('counter');
    expect(api.types.get('wc_evolution_request_duration_seconds')).toBe('histogram');
  });

  it('after a campaign with failures, sends and webhooks counted equal what the simulator saw and the database holds', async () => {
    const { tenantId, key } = await newTenant('Metrics');
    const sender = await addSender(stack, key);
    const phones = numbers(12, 97);
    const notOnWhatsapp = phones.slice(0, 2);
    const serverError = phones[2] as string;
    stack.sim.configure({
      notOnWhatsapp: notOnWhatsapp.map(digits),
      serverErrors: { [digits(serverError)]: 1 },
      throttledSends: { [sender.name]: 1 },
    });
    await insertContacts(tenantId, phones.map((phone) => ({ phone })));
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)]);
    await waitFor(async () => (await prisma.campaign.findUniqueOrThrow({ where: { id: campaignId } })).status === 'COMPLETED', 60_000, 200);
    // Every receipt posted and taken, and every event taken applied.
    await stack.sim.drain();
    await waitFor(async () => (await prisma.webhookInbox.count()) === 0, 30_000, 100);

    const calls = stack.sim.calls.filter((c) => c.instance === sender.name);
    const sends = stack.sim.sends.filter((s) => s.instance === sender.name);
    const recipients = await prisma.recipient.findMany({ where: { campaignId } });
    expect(sends).toHaveLength(10);
    expect(recipients.filter((r) => r.sentAt !== null)).toHaveLength(10);
    expect(recipients.filter((r) => r.status === 'FAILED' && r.errorCode === 'NOT_ON_WHATSAPP')).toHaveLength(2);

    const work = await scrape(workerUrl, TOKEN);
    const sent = (outcome: string) => total(work, 'wc_sends_total', { source: 'campaign', outcome, integration: 'WHATSAPP_BAILEYS' });
    expect(sent('sent')).toBe(sends.length);
    expect(sent('not_on_whatsapp')).toBe(2);
    expect(sent('unavailable')).toBe(1);
    expect(sent('throttled')).toBe(stack.sim.throttled.filter((t) => t.instance === sender.name).length);
    expect(sent('throttled')).toBe(1);
    // Every call the simulator took is counted once, with its duration.
    expect(total(work, 'wc_sends_total')).toBe(calls.length);
    expect(total(work, 'wc_evolution_request_duration_seconds_count', { endpoint: 'sendText' })).toBe(calls.length);
    expect(total(work, 'wc_evolution_request_duration_seconds_count', { endpoint: 'sendText', outcome: 'sent' })).toBe(sends.length);
    expect(total(work, 'wc_dispatch_deferrals_total', { source: 'campaign', reason: 'throttled' })).toBe(1);

    // The API server made no send; the worker answered no webhook.
    const api = await scrape(stack.url, TOKEN);
    expect(samplesOf(api, 'wc_sends_total')).toHaveLength(0);
    expect(samplesOf(work, 'wc_webhooks_received_total')).toHaveLength(0);

    // Receipts: the route took (2xx) exactly the messages.update posts the simulator saw acknowledged…
    const acked = sends.reduce((n, s) => n + s.acked.length, 0);
    expect(acked).toBeGreaterThan(0);
    const received = (event: string, result: string) => total(api, 'wc_webhooks_received_total', { event, result });
    expect(received('messages.update', 'accepted') + received('messages.update', 'ignored')).toBe(acked);
    for (const result of ['rejected', 'unavailable', 'error']) expect(total(api, 'wc_webhooks_received_total', { result })).toBe(0);
    // …and every event made durable was applied by the worker, with its lag.
    const events = new Set(samplesOf(api, 'wc_webhooks_received_total', { result: 'accepted' }).map((s) => s.labels.event as string));
    expect(events.has('messages.update')).toBe(true);
    for (const event of events) {
      const applied = total(work, 'wc_webhooks_applied_total', { event, result: 'applied' });
      expect(applied, event).toBe(received(event, 'accepted'));
      expect(total(work, 'wc_webhook_apply_lag_seconds_count', { event }), event).toBe(applied);
    }
    expect(total(work, 'wc_webhooks_applied_total', { result: 'failed' }) + total(work, 'wc_webhooks_applied_total', { result: 'retry' })).toBe(0);
    // The receipts applied are the ones the simulator decided.
    const delivered = sends.filter((s) => s.final === 'DELIVERY_ACK' || s.final === 'READ').length;
    expect(recipients.filter((r) => r.deliveredAt !== null).length).toBeLessThanOrEqual(delivered);
    await waitFor(async () => (await prisma.recipient.count({ where: { campaignId, deliveredAt: { not: null } } })) === delivered, 10_000);
    expect(await prisma.recipient.count({ where: { campaignId, readAt: { not: null } } })).toBe(sends.filter((s) => s.final === 'READ').length);
  });

  it('counts GraphQL operations by name and result, and open subscriptions per client', async () => {
    const { tenantId, key } = await newTenant('Metrics GraphQL');
    const sender = await addSender(stack, key);
    await insertContacts(tenantId, numbers(1, 98).map((phone) => ({ phone })));
    const campaignId = await newRunningCampaign(tenantId, [uuidOf(sender.instanceId)]);
    const id = Buffer.from(`Campaign:${campaignId}`).toString('base64');
    const before = await scrape(stack.url, TOKEN);
    const count = (s: Scrape, result: string) => total(s, 'wc_graphql_operation_duration_seconds_count', { operation: 'MetricsCampaign', type: 'query', result });

    await gqlOk(stack.url, key, MetricsCampaign, { id });
    await gqlOk(stack.url, key, MetricsCampaign, { id });
    const refused = await gql(stack.url, key, MetricsCampaign, { id: 'not-an-id' });
    expect(refused.errors?.length).toBeGreaterThan(0);
    const after = await scrape(stack.url, TOKEN);
    expect(count(after, 'ok') - count(before, 'ok')).toBe(2);
    expect(count(after, 'error') - count(before, 'error')).toBe(1);
    expect(total(after, 'wc_graphql_operation_duration_seconds_count', { operation: 'RegisterInstance', type: 'mutation', result: 'ok' })).toBeGreaterThanOrEqual(1);

    // Two clients on the same campaign share one stream, and still count as two subscriptions.
    const open = async () => Number(total(await scrape(stack.url, TOKEN), 'wc_graphql_subscriptions_active', { field: 'campaignProgress' }));
    const base = await open();
    const clients = [wsClient(stack.url, key), wsClient(stack.url, key)];
    const streams = clients.map((c) => c.client.iterate({ query: print(MetricsProgress), variables: { campaignId: id } }));
    for (const s of streams) expect((await s.next()).done).toBe(false);
    await waitFor(async () => (await open()) === base + 2, 10_000);
    await streams[0]?.return?.();
    await waitFor(async () => (await open()) === base + 1, 10_000);
    // A client that goes away ends its subscription too.
    await clients[1]?.client.dispose();
    await waitFor(async () => (await open()) === base, 10_000);
    await clients[0]?.client.dispose();

    // Over HTTP (server-sent events) too, until the client hangs up.
    const abort = new AbortController();
    const res = await fetch(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: print(MetricsProgress), variables: { campaignId: id } }),
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    // Past the keep-alive comments, to the first event.
    let text = '';
    while (!text.includes('campaignProgress')) {
      const chunk = await reader.read();
      if (chunk.done) throw new Error(`the event stream ended: ${text}`);
      text += new TextDecoder().decode(chunk.value);
    }
    await waitFor(async () => (await open()) === base + 1, 10_000);
    abort.abort();
    await reader.cancel().catch(() => undefined);
    await waitFor(async () => (await open()) === base, 10_000);
  });
});
