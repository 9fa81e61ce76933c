import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/infra/config/env-source.js';
import { loadAppConfig } from '../../src/infra/config/index.js';

const valid = {
  DATABASE_URL: 'postgresql://u@localhost:5432/db',
  REDIS_URL: 'redis://localhost:6379',
  ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
};

describe('configuration', () => {
  it('parses a valid environment with defaults', () => {
    const c = loadAppConfig(valid);
    expect(c).toMatchObject({ port: 4000, redisPrefix: 'wc', publicUrl: 'http://localhost:4000', evolutionTimeoutMs: 15000 });
    expect(c.encryptionKey).toHaveLength(32);
  });

  it('keeps one full send job per send slot scheduled ahead unless DISPATCH_LOOKAHEAD says otherwise', () => {
    expect(loadAppConfig(valid)).toMatchObject({ dispatchConcurrency: 50, dispatchSlotsPerJob: 25, dispatchLookahead: 1250 });
    expect(loadAppConfig({ ...valid, DISPATCH_CONCURRENCY: '20' })).toMatchObject({ dispatchSlotsPerJob: 20, dispatchLookahead: 400 });
    expect(loadAppConfig({ ...valid, DISPATCH_CONCURRENCY: '1000' })).toMatchObject({ dispatchLookahead: 10_000 });
    expect(loadAppConfig({ ...valid, DISPATCH_LOOKAHEAD: '100' })).toMatchObject({ dispatchLookahead: 100 });
  });

  it('leaves /metrics open and the worker without a metrics port unless told; a metrics token must be long', () => {
    expect(loadAppConfig(valid)).toMatchObject({ metricsToken: null, workerMetricsPort: 0 });
    expect(loadAppConfig({ ...valid, METRICS_TOKEN: '', WORKER_METRICS_PORT: '' })).toMatchObject({ metricsToken: null, workerMetricsPort: 0 });
    expect(loadAppConfig({ ...valid, METRICS_TOKEN: 'a'.repeat(32), WORKER_METRICS_PORT: '9464' })).toMatchObject({ metricsToken: 'a'.repeat(32), workerMetricsPort: 9464 });
    expect(() => loadAppConfig({ ...valid, METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN is invalid: at least 16 characters/);
  });

  it('runs on one Redis unless REDIS_CLUSTER_NODES lists the seed nodes of a cluster', () => {
    expect(loadAppConfig(valid).redisClusterNodes).toEqual([]);
    expect(loadAppConfig({ ...valid, REDIS_CLUSTER_NODES: '' }).redisClusterNodes).toEqual([]);
    expect(loadAppConfig({ ...valid, REDIS_CLUSTER_NODES: 'redis-a:7000, 10.0.0.2:7001' }).redisClusterNodes).toEqual([
      { host: 'redis-a', port: 7000 },
      { host: '10.0.0.2', port: 7001 },
    ]);
    expect(() => loadAppConfig({ ...valid, REDIS_CLUSTER_NODES: 'redis://redis-a:7000' })).toThrow(/REDIS_CLUSTER_NODES is invalid: host:port/);
  });

  it('names every missing or bad variable', () => {
    let error: unknown;
    try {
      loadAppConfig({ REDIS_URL: 'http://nope', ENCRYPTION_KEY: 'short', PORT: 'eighty' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/DATABASE_URL is missing/);
    expect(problems).toMatch(/REDIS_URL is invalid: must be a redis:\/\//);
    expect(problems).toMatch(/ENCRYPTION_KEY is invalid: must be 32 bytes/);
    expect(problems).toMatch(/PORT is invalid/);
  });

  it('stops a process that starts with a bad variable, with a message naming it', () => {
    const env = { PATH: process.env.PATH ?? '', NODE_ENV: 'test', ...valid, REDIS_URL: 'localhost:6379' };
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/workers/main.ts'], { env, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(78);
    expect(r.stderr).toMatch(/REDIS_URL is invalid/);
    expect(r.stderr).toMatch(/\.env\.example/);
  });
});
