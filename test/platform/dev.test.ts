// `npm run dev` stops its three processes, in order, when its own pid gets SIGINT or SIGTERM (as a
// supervisor or a terminal sends it), and their shutdown lines reach the logs.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { workerPort } from '../helpers/ports.js';
import { waitFor } from '../helpers/stack.js';

const root = join(import.meta.dirname, '..', '..');

interface LogLine {
  msg: string;
  pid?: number;
  time: number | string;
}

function lines(file: string): LogLine[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

/** A process (or, negative, a process group) still exists. */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm run dev', () => {
  const dirs: string[] = [];
  const groups: number[] = [];
  const pids: number[] = [];
  afterAll(async () => {
    // After a failure: npm's group (npm, dev.mjs) gets SIGTERM, so dev.mjs stops the services it may
    // have restarted; then whatever is left is killed.
    const left = () => [...groups.map((g) => -g), ...pids].filter(alive);
    for (const g of groups) if (alive(-g)) process.kill(-g, 'SIGTERM');
    await waitFor(async () => left().length === 0, 20_000).catch(() => undefined);
    for (const pid of left()) process.kill(pid, 'SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} to the npm process stops the API server, the worker, then the simulator, with their shutdown lines in the logs`, async () => {
      const logs = mkdtempSync(join(tmpdir(), 'wc-dev-logs-'));
      dirs.push(logs);
      const slot = signal === 'SIGINT' ? 4 : 6;
      const port = await workerPort(inject('portBase'), slot);
      const simPort = await workerPort(inject('portBase'), slot + 1);
      // This file's database (migrated: dev's migrate deploy has nothing to do) and Redis prefix.
      const npm = spawn('npm', ['run', 'dev'], {
        cwd: root,
        env: {
          ...process.env,
          NODE_ENV: 'development',
          LOG_LEVEL: 'info',
          DEV_SERVICES_ONLY: '1',
          DEV_LOG_DIR: logs,
          PORT: String(port),
          PUBLIC_URL: `http://127.0.0.1:${port}`,
          SIM_PORT: String(simPort),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true, // a group of its own, for the clean-up; the signal under test goes to npm's pid only
      });
      groups.push(npm.pid as number);
      let output = '';
      npm.stdout.on('data', (d) => (output += d));
      npm.stderr.on('data', (d) => (output += d));
      const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
      await waitFor(async () => output.includes('ready: API') || npm.exitCode !== null, 90_000, 200);
      expect(npm.exitCode, output).toBeNull();

      const pidOf = (name: string, msg: string) => {
        const line = lines(join(logs, `${name}.log`)).find((l) => l.msg === msg);
        if (!line?.pid) throw new Error(`no "${msg}" line with a pid in ${name}.log:\n${readFileSync(join(logs, `${name}.log`), 'utf8')}`);
        return line.pid;
      };
      const services = {
        api: pidOf('api', 'API server listening'),
        worker: await waitFor(async () => {
          try {
            return pidOf('worker', 'workers started');
          } catch {
            return null;
          }
        }, 30_000),
        simulator: pidOf('simulator', 'evolution simulator listening'),
      };
      pids.push(...Object.values(services));

      npm.kill(signal); // the npm process only, as a supervisor does; not its process group
      expect(await exited, output).toBe(0);
      for (const [name, pid] of Object.entries(services)) expect(alive(pid), `${name} (${pid}) still running`).toBe(false);

      // Each stopped cleanly and wrote its shutdown lines; each began stopping after the previous one had stopped.
      const at = (name: string, msg: string) => {
        const line = lines(join(logs, `${name}.log`)).find((l) => l.msg === msg);
        expect(line, `${name}.log has "${msg}"`).toBeDefined();
        return new Date(line!.time).getTime();
      };
      const apiStopped = at('api', 'API server stopped');
      const workerStopping = at('worker', 'stopping workers');
      const workerStopped = at('worker', 'workers stopped');
      const simStopping = at('simulator', 'evolution simulator stopping');
      at('simulator', 'evolution simulator stopped');
      expect(at('api', 'stopping API server')).toBeLessThanOrEqual(apiStopped);
      expect(workerStopping).toBeGreaterThanOrEqual(apiStopped);
      expect(simStopping).toBeGreaterThanOrEqual(workerStopped);
      expect(output).toMatch(/api stopped \(0\)[\s\S]*worker stopped \(0\)[\s\S]*simulator stopped \(0\)/);
    }, 150_000);
  }
});
