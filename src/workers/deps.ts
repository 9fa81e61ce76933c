import type { RedisClient } from '../infra/redis.js';
import { config } from '../infra/config/index.js';
import { InstanceLimiter } from '../features/dispatch/limiter.js';
import { doubtPhoneLocks } from '../features/dispatch/phone-locks.js';
import { SendPermits } from '../features/dispatch/permits.js';
import type { PumpDeps } from '../features/dispatch/pump.js';
import type { FollowUpDeps } from '../features/followups/service.js';
import type { Logger } from '../infra/lib/logger.js';
import { getQueue } from '../infra/queues/index.js';
import { requestCampaignPump, requestFollowUpPass } from '../infra/queues/pump.js';

export const requestPump = requestCampaignPump;

export function dispatchDeps(redis: RedisClient, log: Logger): PumpDeps & FollowUpDeps {
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
