import type { Redis } from 'ioredis';
import { config } from '../config/index.js';
import { InstanceLimiter } from '../dispatch/limiter.js';
import type { PumpDeps } from '../dispatch/pump.js';
import type { Logger } from '../lib/logger.js';
import { getQueue } from '../queues/index.js';
import { requestCampaignPump } from '../queues/pump.js';

export const requestPump = requestCampaignPump;

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
