// The dispatch benchmark's baseline worker, in its own process: a BullMQ Worker with a no-op processor
// and the product's send concurrency. Prints {"ready": true}; with NOOP_WARMUP, {"warmedUp": n} once
// that many jobs completed (not measured); then, once NOOP_JOBS more jobs completed, when the first
// and last of those completed and the 10th/90th percentile completion times (epoch ms).
// With NOOP_SEND_URL, NOOP_SEND_KEY and NOOP_SEND_INSTANCE, each job instead makes one sendText call
// to that Evolution server through the product's client, and nothing else (no database): a reference.
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { EvolutionClient } from '../../src/infra/evolution/client.js';
import { REDIS_URL } from './measure.js';

const queue = process.env.NOOP_QUEUE as string;
const prefix = process.env.NOOP_PREFIX as string;
const jobs = Number(process.env.NOOP_JOBS);
const concurrency = Number(process.env.NOOP_CONCURRENCY);
const warmup = Number(process.env.NOOP_WARMUP ?? 0);
if (!queue || !prefix || !(jobs > 0) || !(concurrency > 0)) throw new Error('NOOP_QUEUE, NOOP_PREFIX, NOOP_JOBS and NOOP_CONCURRENCY are required');

// Same connection role as the product's workers (src/infra/redis.ts `worker`).
const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const sendUrl = process.env.NOOP_SEND_URL;
const evolution = sendUrl ? new EvolutionClient({ baseUrl: sendUrl, apiKey: process.env.NOOP_SEND_KEY ?? '', timeoutMs: 15_000 }) : null;
const instance = process.env.NOOP_SEND_INSTANCE ?? '';
let n = 0;
const processor = evolution
  ? async () => {
      const outcome = await evolution.sendText(instance, { number: `5511${String(900000000 + n++)}`, text: 'Bom dia, Ana! Temos novidades para você.' });
      if (outcome.kind !== 'sent') throw new Error(`the reference send failed: ${outcome.kind}`);
    }
  : async () => undefined;
const worker = new Worker(queue, processor, { connection, prefix, concurrency });
worker.on('error', (err) => process.stderr.write(`noop worker: ${err.message}\n`));
const done: number[] = [];
let warmedUp = 0;
worker.on('completed', () => {
  if (warmedUp < warmup) {
    if (++warmedUp === warmup) process.stdout.write(`${JSON.stringify({ warmedUp })}\n`);
    return;
  }
  done.push(Date.now());
  if (done.length === jobs) {
    const at = (q: number) => done[Math.min(done.length - 1, Math.floor(q * (done.length - 1)))] as number;
    process.stdout.write(`${JSON.stringify({ completed: done.length, firstAt: done[0], lastAt: at(1), p10At: at(0.1), p90At: at(0.9) })}\n`);
  }
});
await worker.waitUntilReady();
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);

process.on('SIGTERM', () => {
  void worker
    .close()
    .then(() => connection.quit())
    .finally(() => process.exit(0));
});
