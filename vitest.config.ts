import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 has no "exports" map: Node loads its CommonJS build for our dependencies, while Vite
    // would give our own files the ESM build, and the two cannot share a schema. One copy for all.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global-setup.ts'],
    setupFiles: ['test/setup/env.ts'],
    // Each file in its own process: module singletons (Prisma, Redis, config) are per file.
    pool: 'forks',
    // Two files at a time (the default on a 2-core machine is one): most of a file's time is waiting
    // (rate windows, simulated latency, other processes), and every test must hold on a busy machine.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    reporters: ['default'],
  },
});
