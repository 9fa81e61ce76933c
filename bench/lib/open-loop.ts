// An open-loop HTTP load at a fixed arrival rate: request i is due at start + i / rate whatever the
// server does (answers are not waited for), and its latency runs from the moment it is handed to the
// connection pool to the end of the response, so a server that falls behind is charged for the queue
// it builds (no coordinated omission), while the load generator's own timer granularity (about 1 ms,
// reported as `lateP99`) is not charged to it. autocannon's `overallRate` sends each second's requests
// in a burst at the start of the second, which measures the burst instead.
import { Agent, request } from 'node:http';

export interface OpenLoopResult {
  /** Requests sent and answered (any status). */
  answered: number;
  ok: number;
  non2xx: number;
  errors: number;
  /** Answered requests per second over the run. */
  achievedRate: number;
  p50: number;
  p99: number;
  max: number;
  /** How late the generator handed requests over (99th percentile, ms): large values mean the load was not what was asked. */
  lateP99: number;
  /** Status codes other than 2xx, with how many of each. */
  statuses: Record<number, number>;
}

export interface OpenLoopOptions {
  /** Base URL, e.g. http://127.0.0.1:4000 */
  origin: string;
  rate: number;
  seconds: number;
  /** Path and JSON body of the i-th request (i counts across the runs sharing `sequence`). */
  next: (i: number) => { path: string; body: string };
  /** Shared counter, so a warm-up and the measured run continue one sequence of distinct requests. */
  sequence?: { i: number };
  /** Most sockets open at once (like a webhook sender's connection pool); later requests wait for one. */
  maxSockets?: number;
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
}

export async function openLoopPost(opts: OpenLoopOptions): Promise<OpenLoopResult> {
  const total = Math.round(opts.rate * opts.seconds);
  const sequence = opts.sequence ?? { i: 0 };
  const agent = new Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 256 });
  const url = new URL(opts.origin);
  const latencies = new Float64Array(total);
  const late = new Float64Array(total);
  const statuses: Record<number, number> = {};
  let answered = 0;
  let ok = 0;
  let errors = 0;
  let finished = 0;
  let lastEnd = 0;
  const interval = 1000 / opts.rate;
  const start = performance.now() + 20;

  await new Promise<void>((resolve) => {
    const settle = () => {
      finished++;
      if (finished === total) resolve();
    };
    const fire = (n: number, due: number) => {
      const { path, body } = opts.next(sequence.i++);
      const handed = performance.now();
      late[n] = handed - due;
      // Each request settles once: answered at the end of its response, or failed (refused, reset, cut short).
      let settled = false;
      const fail = () => {
        if (settled) return;
        settled = true;
        errors++;
        settle();
      };
      const req = request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.once('end', () => {
            if (settled) return;
            settled = true;
            const end = performance.now();
            latencies[answered++] = end - handed;
            lastEnd = end;
            const code = res.statusCode ?? 0;
            if (code >= 200 && code < 300) ok++;
            else statuses[code] = (statuses[code] ?? 0) + 1;
            settle();
          });
          res.once('error', fail);
          res.once('close', fail);
        },
      );
      req.once('error', fail);
      req.end(body);
    };
    let sent = 0;
    const tick = () => {
      const now = performance.now();
      while (sent < total && start + sent * interval <= now) {
        fire(sent, start + sent * interval);
        sent++;
      }
      if (sent < total) setTimeout(tick, Math.max(0, start + sent * interval - performance.now()));
    };
    if (total === 0) resolve();
    else setTimeout(tick, Math.max(0, start - performance.now()));
  });
  agent.destroy();

  const sorted = latencies.subarray(0, answered).sort();
  return {
    answered,
    ok,
    non2xx: answered - ok,
    errors,
    achievedRate: answered / ((lastEnd - start) / 1000),
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    max: sorted.length ? (sorted[sorted.length - 1] as number) : Number.NaN,
    lateP99: quantile(late.sort(), 0.99),
    statuses,
  };
}
