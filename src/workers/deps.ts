import type { Redis } from 'ioredis';
import { config } from '../config/index.js';
import { InstanceLimiter } from '../dispatch/limiter.js';
import { doubtPhoneLocks } from '../dispatch/phone-locks.js';
import { SendPermits } from '../dispatch/permits.js';
import type { PumpDeps } from '../dispatch/pump.js';
import type { FollowUpDeps } from '../followups/service.js';
import type { Logger } from '../lib/logger.js';
import { getQueue } from '../queues/index.js';
import { requestCampaignPump, requestFollowUpPass } from '../queues/pump.js';

export const requestPump = requestCampaignPump;

export function dispatchDeps(redis: Redis, log: Logger): PumpDeps & FollowUpDeps {
  const permits = new SendPermits(config.dispatchConcurrency);
  const phoneLockMs = config.evolutionTimeoutMs + 5000;
  // The limiter's state had to be rebuilt: Redis lost its keys, phone locks included, for as long as a send can last.
  const limiter = new InstanceLimiter(redis, undefined, (instanceId, seed) => {
    doubtPhoneLocks(phoneLockMs);
    log.info({ instanceId, sendsLastHour: seed.sends.length, sendsToday: seed.dayCount }, 'limiter state rebuilt from the database (Redis held none: first use, or Redis lost it)');
  });
  return {
    redis,
    limiter,
    permits,
    slotsPerJob: config.dispatchSlotsPerJob,
    log,
    requestPump,
    requestFollowUps: requestFollowUpPass,
    lookahead: config.dispatchLookahead,
    // One tenant's campaigns together keep at most this many sends queued ahead of everyone else's.
    tenantLookahead: config.dispatchLookahead,
    phoneLockMs,
    sendQueue: getQueue('sends'),
  };
}
