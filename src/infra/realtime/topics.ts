import type { Counts } from '../../domain/counters.js';

/**
 * The one map of pub/sub topics: topic → payload. Payloads are small JSON objects of ids, numbers
 * and ISO strings. Every channel carries the tenant id, so a subscriber can only ever be attached to
 * its own tenant's events.
 */

/** The campaign's counters (src/domain/counters.ts) as the change left them, with its state. */
export interface CampaignProgressEvent extends Counts {
  tenantId: string;
  campaignId: string;
  status: string;
  /** Increases with every change of the campaign row: lets a subscriber drop a stale event. */
  version: string;
  resumesAt: string | null;
  /** Work is due and no worker process is alive (see src/features/campaigns/stalls.ts). */
  stalledSince: string | null;
  /** Every instance it could send through is disconnected: it waits since then (src/features/dispatch/pump-notes.ts). */
  reconnectWaitSince?: string | null;
  /** The latest deferral of one of its instances after a throttled send (src/features/dispatch/throttle.ts). */
  throttledUntil?: string | null;
  startedAt: string | null;
  completedAt: string | null;
  at: string;
}

export interface CampaignLogEvent {
  tenantId: string;
  campaignId: string;
  /** Entries of one campaign, severity and type written by one transaction: one event for all of them. */
  logIds: string[];
  severity: string;
  type: string;
}

export interface InstanceHealthEvent {
  tenantId: string;
  instanceId: string;
}

export interface ImportProgressEvent {
  tenantId: string;
  importId: string;
}

/** Something of the tenant changed through the API (a mutation): API servers drop its cached responses. */
export interface TenantChangedEvent {
  tenantId: string;
}

export interface Topics {
  'campaign:progress': CampaignProgressEvent;
  'campaign:log': CampaignLogEvent;
  'instance:health': InstanceHealthEvent;
  'import:progress': ImportProgressEvent;
  'tenant:changed': TenantChangedEvent;
}

export type Topic = keyof Topics;

/** The id inside the tenant that a topic's channel is keyed by. */
export const TOPIC_KEY: { [T in Topic]: (p: Topics[T]) => string } = {
  'campaign:progress': (p) => p.campaignId,
  'campaign:log': (p) => p.campaignId,
  'instance:health': (p) => p.instanceId,
  'import:progress': (p) => p.importId,
  'tenant:changed': () => 'api',
};
