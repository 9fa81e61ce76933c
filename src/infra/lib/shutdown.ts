import type { Logger } from './logger.js';

/**
 * On SIGINT or SIGTERM, runs `stop` once (a second signal changes nothing) and exits 0; a stop that
 * takes longer than `timeoutMs` ends the process with 1 instead. `stop` closes what the process
 * opened, in order: what takes work first, the connections last.
 */
export function stopOnSignals(log: Logger, options: { name: string; timeoutMs: number; stop: () => Promise<void> }): void {
  let stopping = false;
  async function shutdown(signal: string) {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, `stopping ${options.name}`);
    const timer = setTimeout(() => {
      log.error('shutdown timed out; exiting');
      process.exit(1);
    }, options.timeoutMs);
    timer.unref();
    await options.stop();
    log.info(`${options.name} stopped`);
    process.exit(0);
  }
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}
