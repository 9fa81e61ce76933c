import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Ports for servers a test starts after it must already know their URL (webhook URLs point at them).
 *
 * A port from listen(0) lies in the kernel's ephemeral range, where any outgoing connection on the
 * machine (to PostgreSQL, Redis, the simulator…) may take it before the server listens: EADDRINUSE,
 * seen once in a CI run. So ports are taken below that range, from a block per vitest worker
 * (`VITEST_POOL_ID`, distinct among the files running at once) at an offset drawn once per run
 * (`portBase`, from the global set-up), so that files of one run never pick the same port, and two
 * runs on one machine almost never do. A port found busy now is skipped.
 */
export const PORTS_PER_WORKER = 10;

/** The lowest port the kernel hands out on its own (32768 where /proc does not say). */
export function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 1024) return low;
  } catch {
    // not Linux: keep the default
  }
  return 32768;
}

/** A random port from 10,000 up to `spare` ports below the ephemeral range. */
function randomLowPort(spare = 0): number {
  const from = 10_000;
  return from + Math.floor(Math.random() * Math.max(1, ephemeralLow() - from - spare));
}

/** A base for one run's ports: below the ephemeral range, with room for every worker's block. */
export function drawPortBase(maxWorkers = 64): number {
  return randomLowPort((maxWorkers + 1) * PORTS_PER_WORKER);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * Port `slot` (0 to PORTS_PER_WORKER − 1) of this worker's block; when it is busy, the next free
 * one after it in the block, then anywhere below the ephemeral range.
 */
export async function workerPort(base: number, slot: number): Promise<number> {
  const pool = Number(process.env.VITEST_POOL_ID ?? 0);
  const block = base + (Number.isInteger(pool) && pool >= 0 ? pool : 0) * PORTS_PER_WORKER;
  for (let i = slot; i < PORTS_PER_WORKER; i++) if (await canListen(block + i)) return block + i;
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = randomLowPort();
    if (await canListen(port)) return port;
  }
  throw new Error('no free port below the ephemeral range');
}
