import { type ChildProcess, spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { waitFor } from '../helpers/stack.js';

/** Starts one of the product's processes with this test file's environment. */
function start(file: string, extraEnv: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    env: { ...process.env, LOG_LEVEL: 'info', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

const running: ChildProcess[] = [];
afterEach(() => {
  for (const c of running.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

describe('processes', () => {
  it('the worker starts its queues and stops in order on SIGTERM', async () => {
    const w = start('src/workers/main.ts');
    running.push(w.child);
    await waitFor(async () => w.output().includes('workers started'), 30_000);
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    const out = w.output();
    expect(out.indexOf('stopping workers')).toBeLessThan(out.indexOf('workers stopped'));
  });

  it('the API server answers /health and /ready, and stops on SIGINT', async () => {
    const port = String(20_000 + Math.floor(Math.random() * 20_000));
    const api = start('src/main.ts', { PORT: port });
    running.push(api.child);
    await waitFor(async () => api.output().includes('API server listening'), 30_000);
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`http://127.0.0.1:${port}/ready`);
    expect(ready.status).toBe(200);
    // No worker runs against this file's database: readiness does not depend on them, they are counted.
    expect(await ready.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' }, workers: 0 });
    api.child.kill('SIGINT');
    expect(await api.exited).toBe(0);
    expect(api.output()).toContain('API server stopped');
  });

  it('the database refuses to change or delete a campaign log entry', async () => {
    const tenant = await prisma.tenant.create({ data: { name: 'log test' } });
    const log = await prisma.campaignLog.create({ data: { tenantId: tenant.id, type: 'CREATED', message: 'x' } });
    await expect(prisma.$executeRaw`UPDATE campaign_log SET message = 'changed' WHERE id = ${log.id}`).rejects.toThrow(/append-only/);
    await expect(prisma.$executeRaw`DELETE FROM campaign_log WHERE id = ${log.id}`).rejects.toThrow(/append-only/);
    const again = await prisma.campaignLog.findUniqueOrThrow({ where: { id: log.id } });
    expect(again.message).toBe('x');
    await prisma.$disconnect();
  });
});
