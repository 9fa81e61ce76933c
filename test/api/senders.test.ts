import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/features/auth/api-keys.js';
import { prisma } from '../../src/infra/db/client.js';
import { graphql } from '../gql/index.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { gql, gqlOk } from '../helpers/graphql.js';
import { uuidOf } from '../helpers/ids.js';
import { SIM_API_KEY, type Stack, startStack } from '../helpers/stack.js';

const RegisterServer = graphql(`
  mutation SndRegisterServer($input: RegisterEvolutionServerInput!) {
    registerEvolutionServer(input: $input) {
      __typename
      ... on RegisterEvolutionServerSuccess { data { id name baseUrl } }
      ... on ValidationError { issues { path message } }
      ... on ConflictError { field message }
      ... on Error { message }
    }
  }
`);

const RegisterInstance = graphql(`
  mutation SndRegisterInstance($input: RegisterInstanceInput!) {
    registerInstance(input: $input) {
      __typename
      ... on RegisterInstanceSuccess { data { id name webhookUrl requiresJwt limitPerMinute limitPerHour limitPerDay minDelayMs maxDelayMs warmup { enabled startPerDay incrementPerDay } } }
      ... on ValidationError { issues { path message } }
      ... on ConflictError { field message }
      ... on Error { message }
    }
  }
`);

const UpdateServer = graphql(`
  mutation SndUpdateServer($id: ID!, $input: UpdateEvolutionServerInput!) {
    updateEvolutionServer(id: $id, input: $input) {
      __typename
      ... on UpdateEvolutionServerSuccess { data { name baseUrl } }
      ... on Error { message }
    }
  }
`);

const DeleteServer = graphql(`
  mutation SndDeleteServer($id: ID!) {
    deleteEvolutionServer(id: $id) { __typename ... on DeleteEvolutionServerSuccess { data } ... on ConflictError { message } ... on Error { message } }
  }
`);

const UpdateInstance = graphql(`
  mutation SndUpdateInstance($id: ID!, $input: UpdateInstanceInput!) {
    updateInstance(id: $id, input: $input) {
      __typename
      ... on UpdateInstanceSuccess { data { name limitPerMinute limitPerHour minDelayMs maxDelayMs requiresJwt warmup { enabled startPerDay } } }
      ... on ValidationError { issues { path message } }
      ... on Error { message }
    }
  }
`);

const PauseInstance = graphql(`
  mutation SndPauseInstance($id: ID!, $reason: String) {
    pauseInstance(id: $id, reason: $reason) {
      __typename
      ... on PauseInstanceSuccess { data { paused manuallyPaused pausedReason } }
      ... on InvalidTransitionError { currentState requestedAction }
      ... on Error { message }
    }
  }
`);

const ResumeInstance = graphql(`
  mutation SndResumeInstance($id: ID!) {
    resumeInstance(id: $id) {
      __typename
      ... on ResumeInstanceSuccess { data { paused pausedReason } }
      ... on InvalidTransitionError { currentState requestedAction }
      ... on Error { message }
    }
  }
`);

const DeleteInstance = graphql(`
  mutation SndDeleteInstance($id: ID!) {
    deleteInstance(id: $id) { __typename ... on DeleteInstanceSuccess { data } ... on ConflictError { message } ... on Error { message } }
  }
`);

const Check = graphql(`
  mutation SndCheck($id: ID!) {
    checkInstanceConnection(id: $id) {
      __typename
      ... on CheckInstanceConnectionSuccess { data { ok state httpStatus message instance { connectionState connectionStateAt } } }
      ... on Error { message }
    }
  }
`);

const Instances = graphql(`
  query SndInstances($filter: InstanceFilter, $orderBy: InstanceOrder) {
    instances(filter: $filter, orderBy: $orderBy, first: 50) {
      totalCount
      edges { node { id name paused connectionState health { score status sentToday } server { name } } }
    }
    evolutionServers(first: 50) { totalCount edges { node { name instances { name } } } }
  }
`);

const WebhookUrlOnly = graphql(`
  query SndWebhookUrl($id: ID!) {
    node(id: $id) { ... on WhatsAppInstance { name webhookUrl } }
  }
`);

describe('senders through GraphQL', () => {
  let stack: Stack;
  let key: string;
  let tenantId: string;

  beforeAll(async () => {
    stack = await startStack({ workers: false });
    ({ key, tenantId } = await newTenant('Senders API'));
  });
  afterAll(async () => {
    await stack.close();
  });

  async function server(name: string) {
    const r = await gqlOk(stack.url, key, RegisterServer, { input: { name, baseUrl: `${stack.sim.url}/`, apiKey: SIM_API_KEY } });
    if (r.registerEvolutionServer.__typename !== 'RegisterEvolutionServerSuccess') throw new Error(JSON.stringify(r));
    return r.registerEvolutionServer.data;
  }

  it('registers a server with its API key encrypted at rest, and refuses a duplicate name or a bad URL', async () => {
    const s = await server('evo-main');
    expect(s.baseUrl).toBe(stack.sim.url);
    const row = await prisma.evolutionServer.findUniqueOrThrow({ where: { id: uuidOf(s.id) } });
    expect(row.apiKeyEncrypted).not.toContain(SIM_API_KEY);
    expect(row.apiKeyEncrypted).toMatch(/^v1\./);
    const dup = await gqlOk(stack.url, key, RegisterServer, { input: { name: 'evo-main', baseUrl: stack.sim.url, apiKey: 'x' } });
    expect(dup.registerEvolutionServer).toMatchObject({ __typename: 'ConflictError', field: 'name' });
    const bad = await gqlOk(stack.url, key, RegisterServer, { input: { name: 'evo-bad', baseUrl: 'not a url', apiKey: 'x' } });
    expect(bad.registerEvolutionServer.__typename).toBe('ValidationError');
    if (bad.registerEvolutionServer.__typename === 'ValidationError') expect(bad.registerEvolutionServer.issues[0]?.path).toEqual(['input', 'baseUrl']);
  });

  it('registers an instance and returns the webhook URL to configure on Evolution', async () => {
    const s = await server('evo-inst');
    const r = await gqlOk(stack.url, key, RegisterInstance, {
      input: { serverId: s.id, name: 'loja-1', limitPerMinute: 12, limitPerHour: 300, limitPerDay: 2000, minDelayMs: 1500, maxDelayMs: 4000, jwtKey: 'a-very-secret-key', warmupEnabled: true, warmupStartPerDay: 30 },
    });
    expect(r.registerInstance).toMatchObject({
      __typename: 'RegisterInstanceSuccess',
      data: { name: 'loja-1', requiresJwt: true, limitPerMinute: 12, limitPerHour: 300, limitPerDay: 2000, minDelayMs: 1500, maxDelayMs: 4000, warmup: { enabled: true, startPerDay: 30 } },
    });
    if (r.registerInstance.__typename !== 'RegisterInstanceSuccess') return;
    expect(r.registerInstance.data.webhookUrl).toMatch(new RegExp(`^${stack.url}/webhooks/evolution/[A-Za-z0-9_-]{32}$`));
    const row = await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: uuidOf(r.registerInstance.data.id) } });
    expect(row.jwtKeyEncrypted).not.toContain('a-very-secret-key');

    const dup = await gqlOk(stack.url, key, RegisterInstance, { input: { serverId: s.id, name: 'loja-1' } });
    expect(dup.registerInstance).toMatchObject({ __typename: 'ConflictError', field: 'name' });
    const badDelay = await gqlOk(stack.url, key, RegisterInstance, { input: { serverId: s.id, name: 'loja-2', minDelayMs: 5000, maxDelayMs: 10 } });
    expect(badDelay.registerInstance.__typename).toBe('ValidationError');
    const badLimit = await gqlOk(stack.url, key, RegisterInstance, { input: { serverId: s.id, name: 'loja-3', limitPerMinute: 0 } });
    expect(badLimit.registerInstance.__typename).toBe('ValidationError');
  });

  it('shows the webhook URL (which carries the secret) to ADMIN keys only', async () => {
    const { instanceId } = await addSender(stack, key, { name: 'secret-holder' });
    const operator = (await createApiKey(tenantId, 'op', 'OPERATOR')).key;
    const asAdmin = await gqlOk(stack.url, key, WebhookUrlOnly, { id: instanceId });
    expect(asAdmin.node).toMatchObject({ name: 'secret-holder' });
    const asOperator = await gql(stack.url, operator, WebhookUrlOnly, { id: instanceId });
    expect(asOperator.errors?.[0]?.message).toMatch(/may not use WhatsAppInstance\.webhookUrl/);
    expect(JSON.stringify(asOperator.data ?? {})).not.toContain('/webhooks/evolution/');
  });

  it('updates an instance field by field, pauses and resumes it with typed errors for wrong states', async () => {
    const { instanceId } = await addSender(stack, key, { name: 'editable', jwtKey: 'another-secret' });
    const u = await gqlOk(stack.url, key, UpdateInstance, { id: instanceId, input: { limitPerMinute: 7, jwtKey: null, warmupEnabled: true } });
    expect(u.updateInstance).toMatchObject({ __typename: 'UpdateInstanceSuccess', data: { name: 'editable', limitPerMinute: 7, limitPerHour: 60000, requiresJwt: false, warmup: { enabled: true } } });
    const warm = await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: uuidOf(instanceId) } });
    expect(warm.warmupStartedAt).not.toBeNull();
    const bad = await gqlOk(stack.url, key, UpdateInstance, { id: instanceId, input: { maxDelayMs: 0, minDelayMs: 10 } });
    expect(bad.updateInstance.__typename).toBe('ValidationError');

    const p = await gqlOk(stack.url, key, PauseInstance, { id: instanceId, reason: 'number under review' });
    expect(p.pauseInstance).toMatchObject({ data: { paused: true, manuallyPaused: true, pausedReason: 'number under review' } });
    const p2 = await gqlOk(stack.url, key, PauseInstance, { id: instanceId });
    expect(p2.pauseInstance).toMatchObject({ __typename: 'InvalidTransitionError', currentState: 'PAUSED', requestedAction: 'pause' });
    const r = await gqlOk(stack.url, key, ResumeInstance, { id: instanceId });
    expect(r.resumeInstance).toMatchObject({ data: { paused: false, pausedReason: null } });
    const r2 = await gqlOk(stack.url, key, ResumeInstance, { id: instanceId });
    expect(r2.resumeInstance).toMatchObject({ __typename: 'InvalidTransitionError', currentState: 'ACTIVE', requestedAction: 'resume' });
  });

  it("checks an instance's connection with Evolution and records it", async () => {
    const { instanceId, name } = await addSender(stack, key, { name: 'checked' });
    stack.sim.setConnectionState(name, 'connecting');
    const r = await gqlOk(stack.url, key, Check, { id: instanceId });
    expect(r.checkInstanceConnection).toMatchObject({ data: { ok: true, state: 'CONNECTING', httpStatus: 200, instance: { connectionState: 'CONNECTING' } } });
    stack.sim.setConnectionState(name, 'open');
    const open = await gqlOk(stack.url, key, Check, { id: instanceId });
    expect(open.checkInstanceConnection).toMatchObject({ data: { ok: true, state: 'OPEN' } });

    // An instance Evolution does not know: Evolution's 404, passed on without changing the stored state.
    const s = await server('evo-ghost');
    const ghost = await gqlOk(stack.url, key, RegisterInstance, { input: { serverId: s.id, name: 'not-on-evolution' } });
    if (ghost.registerInstance.__typename !== 'RegisterInstanceSuccess') throw new Error('setup');
    const g = await gqlOk(stack.url, key, Check, { id: ghost.registerInstance.data.id });
    expect(g.checkInstanceConnection).toMatchObject({ data: { ok: false, state: null, httpStatus: 404, instance: { connectionState: 'UNKNOWN' } } });
    expect(g.checkInstanceConnection.__typename === 'CheckInstanceConnectionSuccess' && g.checkInstanceConnection.data.message).toMatch(/does not exist/);
  });

  it('deletes only an instance that never sent, and only a server without instances', async () => {
    const s = await server('evo-del');
    const i = await gqlOk(stack.url, key, RegisterInstance, { input: { serverId: s.id, name: 'short-lived' } });
    if (i.registerInstance.__typename !== 'RegisterInstanceSuccess') throw new Error('setup');
    const inUse = await gqlOk(stack.url, key, DeleteServer, { id: s.id });
    expect(inUse.deleteEvolutionServer.__typename).toBe('ConflictError');
    const d = await gqlOk(stack.url, key, DeleteInstance, { id: i.registerInstance.data.id });
    expect(d.deleteInstance).toEqual({ __typename: 'DeleteInstanceSuccess', data: i.registerInstance.data.id });
    const ds = await gqlOk(stack.url, key, DeleteServer, { id: s.id });
    expect(ds.deleteEvolutionServer.__typename).toBe('DeleteEvolutionServerSuccess');
    expect(await prisma.evolutionServer.count({ where: { id: uuidOf(s.id) } })).toBe(0);
  });

  it('renames a server and re-encrypts a new API key', async () => {
    const s = await server('evo-rename');
    const before = await prisma.evolutionServer.findUniqueOrThrow({ where: { id: uuidOf(s.id) } });
    const r = await gqlOk(stack.url, key, UpdateServer, { id: s.id, input: { name: 'evo-renamed', apiKey: 'new-key' } });
    expect(r.updateEvolutionServer).toMatchObject({ data: { name: 'evo-renamed', baseUrl: stack.sim.url } });
    const after = await prisma.evolutionServer.findUniqueOrThrow({ where: { id: uuidOf(s.id) } });
    expect(after.apiKeyEncrypted).not.toBe(before.apiKeyEncrypted);
    expect(after.apiKeyEncrypted).not.toContain('new-key');
  });

  it('lists instances with filters and ordering', async () => {
    const t = await newTenant('Listing senders');
    const a = await addSender(stack, t.key, { name: 'zeta' });
    const b = await addSender(stack, t.key, { name: 'alpha' });
    await prisma.whatsAppInstance.update({ where: { id: uuidOf(b.instanceId) }, data: { healthScore: 40, manuallyPaused: true } });
    const all = await gqlOk(stack.url, t.key, Instances, { orderBy: { field: 'NAME', direction: 'ASC' } });
    expect(all.instances.edges.map((e) => e.node.name)).toEqual(['alpha', 'zeta']);
    expect(all.instances.totalCount).toBe(2);
    expect(all.evolutionServers.totalCount).toBe(2);
    const paused = await gqlOk(stack.url, t.key, Instances, { filter: { paused: true } });
    expect(paused.instances.edges.map((e) => e.node)).toMatchObject([{ name: 'alpha', paused: true, health: { score: 40, status: 'CRITICAL' } }]);
    const byHealth = await gqlOk(stack.url, t.key, Instances, { orderBy: { field: 'HEALTH_SCORE', direction: 'DESC' } });
    expect(byHealth.instances.edges.map((e) => e.node.id)).toEqual([a.instanceId, b.instanceId]);
    const search = await gqlOk(stack.url, t.key, Instances, { filter: { search: 'ZET' } });
    expect(search.instances.edges.map((e) => e.node.name)).toEqual(['zeta']);
  });

  it('refuses sender administration to OPERATOR and VIEWER keys', async () => {
    const { instanceId } = await addSender(stack, key, { name: 'guarded' });
    const s = await server('evo-guard-srv');
    for (const role of ['OPERATOR', 'VIEWER'] as const) {
      const k = (await createApiKey(tenantId, role, role)).key;
      const results = [
        (await gqlOk(stack.url, k, RegisterServer, { input: { name: `x-${role}`, baseUrl: stack.sim.url, apiKey: 'x' } })).registerEvolutionServer,
        (await gqlOk(stack.url, k, RegisterInstance, { input: { serverId: s.id, name: `x-${role}` } })).registerInstance,
        (await gqlOk(stack.url, k, UpdateServer, { id: s.id, input: { name: 'x' } })).updateEvolutionServer,
        (await gqlOk(stack.url, k, DeleteServer, { id: s.id })).deleteEvolutionServer,
        (await gqlOk(stack.url, k, UpdateInstance, { id: instanceId, input: { limitPerMinute: 1 } })).updateInstance,
        (await gqlOk(stack.url, k, PauseInstance, { id: instanceId })).pauseInstance,
        (await gqlOk(stack.url, k, ResumeInstance, { id: instanceId })).resumeInstance,
        (await gqlOk(stack.url, k, DeleteInstance, { id: instanceId })).deleteInstance,
      ];
      for (const r of results) expect(r.__typename, role).toBe('ForbiddenError');
    }
    const viewer = (await createApiKey(tenantId, 'v2', 'VIEWER')).key;
    expect((await gqlOk(stack.url, viewer, Check, { id: instanceId })).checkInstanceConnection.__typename).toBe('ForbiddenError');
    const row = await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: uuidOf(instanceId) } });
    expect(row).toMatchObject({ manuallyPaused: false, limitPerMinute: 1000 });
    expect(await prisma.evolutionServer.count({ where: { tenantId, name: { startsWith: 'x-' } } })).toBe(0);
  });
});
