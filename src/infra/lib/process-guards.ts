import type { Logger } from './logger.js';

/**
 * A promise rejected with nobody listening ends a Node process by default. In our processes such a
 * rejection is always some work that failed on its own (a write while the database restarts, say)
 * whose state lives in PostgreSQL and is recovered by the product's own rules (the reaper, the
 * watchdog, the reconciler): ending the process would stop every other send and webhook with it. It
 * is logged as the bug it is and the process goes on. Uncaught exceptions still end it.
 */
export function keepRunningOnUnhandledRejections(log: Logger): void {
  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason }, 'unhandled promise rejection; the process keeps running');
  });
}
