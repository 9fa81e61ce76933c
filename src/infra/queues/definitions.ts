import { UnrecoverableError } from 'bullmq';
import { z } from 'zod';

/**
 * Every queue, the jobs it carries and their payload schemas. Payloads carry ids only; processors
 * re-read state, so a job that runs twice does no harm.
 */
const uuid = z.uuid();

export const JOBS = {
  campaigns: {
    'campaign:pump': z.object({ tenantId: uuid, campaignId: uuid }),
    'campaign:start-scheduled': z.object({ tenantId: uuid, campaignId: uuid, scheduledAt: z.string() }),
    /** Pauses the instance if its health score fell below its tenant's threshold. */
    'instance:health-check': z.object({ instanceId: uuid }),
    /** Schedules due follow-ups on rate-limit slots. */
    'follow-ups:pump': z.object({}),
  },
  sends: {
    'dispatch:send': z.preprocess(
      // Jobs queued before sends were batched carry one `slot`.
      (d) => (d && typeof d === 'object' && 'slot' in d && !('slots' in d) ? { ...d, slots: [(d as { slot: unknown }).slot] } : d),
      z.object({
        tenantId: uuid,
        campaignId: uuid,
        instanceId: uuid,
        /** The rate-limit slots reserved for this job's sends, all due at `slotAt` (those not used are released). */
        slots: z.array(z.string()).min(1).max(1000),
        slotAt: z.number(),
        /** The instance's local day the slots were counted against. */
        day: z.string(),
      }),
    ),
    'dispatch:follow-up': z.object({ tenantId: uuid, followUpId: uuid, instanceId: uuid, slot: z.string(), day: z.string() }),
    /** The tenant's confirmation of a keyword opt-in or opt-out, to the contact who sent it. */
    'consent:reply': z.object({
      tenantId: uuid,
      instanceId: uuid,
      contactId: uuid,
      kind: z.enum(['OPT_IN', 'OPT_OUT']),
      replyId: uuid,
      /** How many times it waited already for its disconnected instance (src/features/replies/confirm.ts). */
      waits: z.number().int().min(0).optional(),
    }),
  },
  webhooks: {
    'webhook:evolution': z.object({
      tenantId: uuid,
      instanceId: uuid,
      receivedAt: z.string(),
      event: z.string(),
      /** The validated `data` of the envelope. */
      data: z.unknown(),
    }),
  },
  imports: {
    'contacts:import': z.object({ tenantId: uuid, importId: uuid }),
  },
  maintenance: {
    /** Pumps every RUNNING campaign: recovers from a lost pump or a crashed worker. */
    'maintenance:watchdog': z.object({}),
    /** SENDING recipients whose worker vanished become UNKNOWN. */
    'maintenance:reap-sending': z.object({}),
    'maintenance:purge-receipts': z.object({}),
    /** Resets instances' daily counters at their tenant's local midnight. */
    'maintenance:daily-reset': z.object({}),
    /** Health sweep: pauses unhealthy instances, lets resting ones recover, re-admits them after the cool-down. */
    'maintenance:health': z.object({}),
    /** Creates the follow-ups that fell due and schedules them. */
    'maintenance:follow-ups': z.object({}),
    /** Decides open A/B tests whose variants have the sample, and sends the winner to the hold-out. */
    'maintenance:ab-evaluate': z.object({}),
    /** Resolves unknown send outcomes against Evolution (sent, not sent, or undecidable). */
    'maintenance:reconcile': z.object({}),
    /** Asks Evolution about disconnected instances whose check is due (backoff 5 s to 5 min) and re-admits the open ones. */
    'maintenance:connections': z.object({}),
    /** Logs each running campaign's progress since the previous pass (src/features/campaigns/progress-log.ts). */
    'maintenance:campaign-summary': z.object({}),
  },
} as const;

export type QueueName = keyof typeof JOBS;
export type JobName<Q extends QueueName> = keyof (typeof JOBS)[Q] & string;
export type JobData<Q extends QueueName, N extends JobName<Q>> = z.infer<(typeof JOBS)[Q][N]>;

export const QUEUE_NAMES = Object.keys(JOBS) as QueueName[];

export type ParsedJob<Q extends QueueName> = { [N in JobName<Q>]: { name: N; data: JobData<Q, N> } }[JobName<Q>];

/**
 * Parses a job's payload with its schema; an unknown job name is an error, never a silent no-op. Both
 * errors are final (UnrecoverableError): the same job would fail the same way on every attempt.
 */
export function parseJob<Q extends QueueName>(queue: Q, name: string, data: unknown): ParsedJob<Q> {
  const schema = (JOBS[queue] as Record<string, z.ZodType>)[name];
  if (!schema) throw new UnrecoverableError(`unknown job "${name}" on queue "${queue}"`);
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new UnrecoverableError(`invalid payload for job "${name}" on queue "${queue}": ${parsed.error.message}`);
  return { name, data: parsed.data } as ParsedJob<Q>;
}

/** BullMQ job ids may not contain ':' and may not be all digits. */
export function jobId(...parts: Array<string | number>): string {
  return parts.map((p) => String(p).replace(/[^A-Za-z0-9_.-]/g, '_')).join('-');
}
