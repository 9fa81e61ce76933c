import type { Job } from 'bullmq';
import { processImport } from '../features/contacts/import.js';
import { parseJob } from '../infra/queues/definitions.js';

export function importsProcessor() {
  return async (job: Job) => {
    const { data } = parseJob('imports', job.name, job.data);
    const result = await processImport(data.tenantId, data.importId);
    return `${result.status}: ${result.createdCount} created, ${result.updatedCount} updated, ${result.skippedCount} skipped, ${result.failedCount} failed`;
  };
}
