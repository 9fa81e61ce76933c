// `npm run bench:baseline`: this machine's baselines, measured in one run. Other benchmarks measure
// the baseline they need again in their own run and print their result as a ratio to it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { bareHttpRps, fmt, pgInsertRows, redisSetOps, table } from './lib/measure.js';

const http = await bareHttpRps();
const redis = await redisSetOps();
const insert = await pgInsertRows();

const rows: Array<[string, string, string]> = [
  ['baseline', 'value', 'how'],
  ['node:http 200 handler', `${fmt(http.requestsPerSec)} req/s`, `autocannon, 50 connections, 10 s, server in its own process (p99 ${http.p99} ms)`],
  ['Redis SET', `${fmt(redis)} ops/s`, '32 connections, one SET after another each, no pipelining'],
  ['PostgreSQL single-row INSERT', `${fmt(insert)} rows/s`, '8 connections, autocommit INSERT of one row each'],
];
table(rows);
mkdirSync('bench/results', { recursive: true });
writeFileSync(
  'bench/results/baseline.json',
  `${JSON.stringify({ at: new Date().toISOString(), httpReqPerSec: http.requestsPerSec, redisSetPerSec: redis, pgInsertPerSec: insert }, null, 2)}\n`,
);
process.exit(0);
