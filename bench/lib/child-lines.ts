// A TypeScript file in its own Node process whose stdout is a stream of JSON lines: the first says
// it is ready, later ones report results. (measure.ts's startChild reads only the first line.)
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

export interface LineChild<T> {
  child: ChildProcess;
  /** The first JSON line. */
  info: T;
  /** The next JSON line, or an error when the process exits or `timeoutMs` passes first. */
  next<U>(timeoutMs?: number): Promise<U>;
}

export interface LineChildOptions {
  /** Node flags before the script (e.g. --cpu-prof). */
  nodeOptions?: string[];
  /** Which JSON lines are reports; others (the product's pino logs) go to `logFile`, or are dropped. */
  isReport?: (line: Record<string, unknown>) => boolean;
  logFile?: string;
}

export async function startLineChild<T>(file: string, env: Record<string, string> = {}, opts: LineChildOptions = {}): Promise<LineChild<T>> {
  const child = spawn(process.execPath, [...(opts.nodeOptions ?? []), '--import', 'tsx', file], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: Array<{ resolve(line: string): void; reject(err: Error): void }> = [];
  let exited: Error | null = null;
  const log = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : null;
  child.once('exit', () => log?.end());
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(line);
    } catch {
      // not JSON: a stray line
    }
    if (!parsed || typeof parsed !== 'object' || (opts.isReport && !opts.isReport(parsed as Record<string, unknown>))) {
      log?.write(`${line}\n`);
      return;
    }
    const w = waiters.shift();
    if (w) w.resolve(line);
    else lines.push(line);
  });
  child.once('exit', (code, signal) => {
    exited = new Error(`${file} exited (${code ?? signal})`);
    for (const w of waiters.splice(0)) w.reject(exited);
  });
  const nextLine = (timeoutMs: number) =>
    new Promise<string>((resolve, reject) => {
      const queued = lines.shift();
      if (queued !== undefined) return resolve(queued);
      if (exited) return reject(exited);
      const timer = setTimeout(() => {
        const i = waiters.indexOf(waiter);
        if (i >= 0) waiters.splice(i, 1);
        reject(new Error(`${file} printed nothing in ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        resolve: (line: string) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      waiters.push(waiter);
    });
  const next = async <U>(timeoutMs = 600_000) => JSON.parse(await nextLine(timeoutMs)) as U;
  try {
    const info = await next<T>(120_000);
    return { child, info, next };
  } catch (err) {
    if (child.exitCode === null) child.kill('SIGKILL');
    throw err;
  }
}
