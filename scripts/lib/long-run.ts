// What the long runs (test:crash, test:faults) share: product processes they start and stop, waiting
// for a condition, and the campaign's counters read beside a recount of its recipients.
import { type ChildProcess, spawn } from 'node:child_process';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Proc {
  name: string;
  child: ChildProcess;
  output: string;
  exited: Promise<number | null>;
}

/** A product entry point (src/main.ts, src/workers/main.ts) in its own process, its output kept. */
export function startProcess(name: string, file: string, env: NodeJS.ProcessEnv): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = { name, child, output: '', exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
  const keep = (d: Buffer) => {
    p.output = (p.output + d.toString()).slice(-400_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return p;
}

/** SIGTERM (the ordered stop), then SIGKILL after `graceMs`. */
export async function stopProcess(p: Proc, graceMs = 15_000) {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  await Promise.race([p.exited, sleep(graceMs)]);
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await p.exited;
}

/** Asks `probe` every `everyMs` until it gives something truthy; an error (a database restarting) just asks again. */
export async function waitFor<T>(probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs: number, everyMs = 250): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`condition not met in ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

/** The campaign's counters and a recount of its recipients, in one statement (one snapshot). $1: the campaign id. */
export const COUNTERS_AND_RECOUNT = `
  SELECT json_build_object('targeted', c.targeted_count, 'sent', c.sent_count, 'delivered', c.delivered_count, 'read', c.read_count,
           'failed', c.failed_count, 'skipped', c.skipped_count, 'unknown', c.unknown_count, 'remaining', c.remaining_count) AS counters,
         (SELECT json_build_object('targeted', count(*), 'sent', count(sent_at), 'delivered', count(delivered_at), 'read', count(read_at),
           'failed', count(*) FILTER (WHERE status = 'FAILED'), 'skipped', count(*) FILTER (WHERE status = 'SKIPPED'),
           'unknown', count(*) FILTER (WHERE status = 'UNKNOWN'),
           'remaining', count(*) FILTER (WHERE status IN ('PENDING', 'QUEUED', 'SENDING')))
          FROM recipient r WHERE r.campaign_id = c.id) AS recount
  FROM campaign c WHERE c.id = $1`;
