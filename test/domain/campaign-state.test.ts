import { describe, expect, it } from 'vitest';
import { CAMPAIGN_STATUSES, type CampaignAction, nextStatus } from '../../src/domain/campaign-state.js';

describe('campaign state machine', () => {
  const table: Record<CampaignAction, Partial<Record<(typeof CAMPAIGN_STATUSES)[number], string>>> = {
    schedule: { DRAFT: 'SCHEDULED' },
    unschedule: { SCHEDULED: 'DRAFT' },
    start: { DRAFT: 'RUNNING', SCHEDULED: 'RUNNING' },
    pause: { RUNNING: 'PAUSED' },
    resume: { PAUSED: 'RUNNING' },
    cancel: { DRAFT: 'CANCELLED', SCHEDULED: 'CANCELLED', RUNNING: 'CANCELLED', PAUSED: 'CANCELLED' },
    complete: { RUNNING: 'COMPLETED' },
    retry: { RUNNING: 'RUNNING', PAUSED: 'RUNNING', COMPLETED: 'RUNNING' },
  };
  for (const [action, allowed] of Object.entries(table) as Array<[CampaignAction, Record<string, string>]>) {
    it(`${action}: allowed only from ${Object.keys(allowed).join(', ')}`, () => {
      for (const from of CAMPAIGN_STATUSES) expect(nextStatus(from, action), `${action} from ${from}`).toBe(allowed[from] ?? null);
    });
  }
});
