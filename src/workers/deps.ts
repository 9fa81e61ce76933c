import type { Redis } from 'ioredis';
import { config } from '../config/index.js';
import { InstanceLimiter } from '../dispatch/limiter.js';
import type { PumpDeps } from '../dispatch/pump.js';
import type { Logger } from '../lib/logger.js';
import { clock } from '../lib/clock.js';
import { jobId } from '../queues/definitions.js';
import { enqueue, getQueue } from '../queues/index.js';

/** Pump requests within one tick share a job id, so a burst of requests becomes one pump. */
const PUMP_TICK_MS = 100;

export function requestPump(tenantId: string, campaignId: string, delayMs = 0): Promise<void> {
  const at = clock.ms() + Math.max(0, delayMs);
  return enqueue(
    'campaigns',
    'campaign:pump',
    { tenantId, campaignId },
    { jobId: jobId('pump', campaignId, Math.floor(at / PUMP_TICK_MS)), delay: Math.max(0, delayMs) },
  ).then(() => undefined);
}

export function dispatchDeps(redis: Redis, log: Logger): PumpDeps {
  return {
    redis,
    limiter: new InstanceLimiter(redis),
    log,
    requestPump,
    lookahead: config.dispatchLookahead,
    phoneLockMs: config.evolutionTimeoutMs + 5000,
    sendQueue: getQueue('sends'),
  };
}
