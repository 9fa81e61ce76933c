import { type ChildProcess, spawn } from 'node:child_process';

// Worker processes for tests that run the product's workers as separate processes.

export interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** A worker process (`src/workers/main.ts`) with this test file's database and Redis prefix (and `env`). */
export function startWorker(env: Record<string, string> = {}): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/workers/main.ts'], {
    env: { ...process.env, LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/**
 * Sends this process's finished send jobs made: a job's result counts its slots' outcomes, `sent`
 * for one send or `sent 3, nothing-to-send 1` for a job of several slots.
 */
export function sendsMade(w: WorkerProcess): number {
  let n = 0;
  for (const line of w.output().split('\n')) {
    if (!line.includes('"queue":"sends"') || !line.includes('"msg":"job done"')) continue;
    const result = String((JSON.parse(line) as { result?: unknown }).result ?? '');
    const m = /(?:^|, )sent(?: (\d+))?(?:,|$)/.exec(result);
    if (m) n += Number(m[1] ?? 1);
  }
  return n;
}

/** Waits until every worker logged its start; on timeout the error carries the end of each one's output. */
export async function waitForStart(workers: readonly WorkerProcess[], timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!workers.every((w) => w.output().includes('workers started'))) {
    if (Date.now() > until) {
      const tails = workers.map((w, i) => `worker ${i} (exit ${w.child.exitCode}):\n${w.output().slice(-3000)}`).join('\n');
      throw new Error(`workers not started in ${timeoutMs} ms\n${tails}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
