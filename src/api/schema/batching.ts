import DataLoader from 'dataloader';
import { prisma } from '../../infra/db/client.js';
import type { Context } from './context.js';

// Per-request batching for the analytics fields: a list of campaigns costs one query per figure,
// whatever the number of campaigns. Rows that name an instance or a message get it attached.

const perRequest = new WeakMap<object, Map<string, DataLoader<string, unknown>>>();

export function batched<T>(ctx: Context, key: string, load: (ids: readonly string[]) => Promise<Map<string, T>>): DataLoader<string, T> {
  let loaders = perRequest.get(ctx);
  if (!loaders) {
    loaders = new Map();
    perRequest.set(ctx, loaders);
  }
  let loader = loaders.get(key) as DataLoader<string, T> | undefined;
  if (!loader) {
    loader = new DataLoader<string, T>(async (ids) => {
      const found = await load(ids);
      return ids.map((id) => found.get(id) as T);
    });
    loaders.set(key, loader as DataLoader<string, unknown>);
  }
  return loader;
}

export async function withInstances<R extends { instance_id: string }>(tenantId: string, byCampaign: Map<string, R[]>) {
  const ids = [...new Set([...byCampaign.values()].flat().map((r) => r.instance_id))];
  const instances = ids.length ? await prisma.whatsAppInstance.findMany({ where: { id: { in: ids }, tenantId } }) : [];
  const byId = new Map(instances.map((i) => [i.id, i]));
  return new Map([...byCampaign].map(([cid, rows]) => [cid, rows.map((r) => ({ ...r, instance: byId.get(r.instance_id) ?? null }))]));
}

export async function withMessages<R extends { message_id: string | null }>(tenantId: string, byCampaign: Map<string, R[]>) {
  const ids = [...new Set([...byCampaign.values()].flat().flatMap((r) => (r.message_id ? [r.message_id] : [])))];
  const messages = ids.length ? await prisma.campaignMessage.findMany({ where: { id: { in: ids }, tenantId } }) : [];
  const byId = new Map(messages.map((m) => [m.id, m]));
  return new Map([...byCampaign].map(([cid, rows]) => [cid, rows.map((r) => ({ ...r, message: r.message_id ? (byId.get(r.message_id) ?? null) : null }))]));
}
