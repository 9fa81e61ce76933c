/**
 * The simulator's own routes, under `/__simulator/` (not Evolution's API; the global key only): the
 * record of accepted sends, the state, the behaviour knobs, and an instance's connection (open,
 * close, refused; disconnect), incoming messages, templates and customer-service window.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody } from '../../src/infra/evolution/wire.js';
import type { SimulatorCore } from './core.js';
import { HttpError, readJson, requireApiKey, sendJson } from './http.js';
import type { MetaTemplate, SimInstance, SimulatorBehaviour } from './types.js';

export async function handleControl(sim: SimulatorCore, req: IncomingMessage, res: ServerResponse, method: string, path: string, url: () => URL) {
  requireApiKey(req, sim.options.apiKey);
  if (path === '/__simulator/sends' && method === 'GET') {
    const { searchParams } = url();
    const instance = searchParams.get('instance');
    const since = Number(searchParams.get('sinceSeq') ?? 0);
    return sendJson(res, 200, { sends: sim.sends.filter((s) => (!instance || s.instance === instance) && s.seq > since) });
  }
  if (path === '/__simulator/sends' && method === 'DELETE') {
    sim.clearSends();
    return sendJson(res, 200, { ok: true });
  }
  if (path === '/__simulator/state' && method === 'GET') {
    return sendJson(res, 200, {
      behaviour: sim.behaviour,
      sends: sim.sends.length,
      throttled: sim.throttled,
      pendingWebhooks: sim.pendingWebhooks,
      webhooks: sim.webhookStats,
      instances: [...sim.instances.values()].map((i) => ({
        name: i.name,
        integration: i.integration,
        state: i.state,
        reconnecting: sim.isReconnecting(i.name),
        webhook: i.webhook?.url ?? null,
        lastIncomingAt: i.lastIncomingAt,
      })),
    });
  }
  if (path === '/__simulator/behaviour' && method === 'PATCH') {
    return sendJson(res, 200, sim.configure((await readJson(req)) as Partial<SimulatorBehaviour>));
  }
  const m = path.match(/^\/__simulator\/instances\/([^/]+)\/(connection|incoming|disconnect|templates|window)$/);
  if (m && (method === 'POST' || (method === 'PUT' && m[2] === 'templates'))) {
    const name = decodeURIComponent(m[1] as string);
    const instance = sim.instances.get(name);
    if (!instance) throw new HttpError(404, errorBody(404, [`The "${name}" instance does not exist`]));
    const body = (await readJson(req)) as {
      state?: string;
      statusReason?: number;
      from?: string;
      text?: string;
      lid?: boolean;
      pushName?: string;
      at?: string | number;
      mode?: string;
      templates?: MetaTemplate[];
      number?: string;
      lastIncomingAt?: string | number | null;
    };
    const when = (v: string | number | null | undefined): number | null | undefined => {
      if (v === undefined || v === null) return v;
      const t = typeof v === 'number' ? v : Date.parse(v);
      if (!Number.isFinite(t)) throw new HttpError(400, errorBody(400, ['a time must be epoch ms or an ISO date']));
      return t;
    };
    const stateBody = (i: SimInstance) => ({ instance: { instanceName: i.name, state: i.state } });
    if (m[2] === 'connection') {
      if (!['open', 'connecting', 'close', 'refused'].includes(String(body.state))) {
        throw new HttpError(400, errorBody(400, ['state must be open, connecting, close or refused']));
      }
      return sendJson(res, 200, stateBody(sim.setConnectionState(name, body.state as SimInstance['state'], body.statusReason)));
    }
    if (m[2] === 'disconnect') {
      const mode = body.mode ?? 'connection-lost';
      if (mode !== 'never-connected' && mode !== 'connection-lost') throw new HttpError(400, errorBody(400, ['mode must be never-connected or connection-lost']));
      if (instance.integration !== 'WHATSAPP-BAILEYS') throw new HttpError(400, errorBody(400, [`only a WHATSAPP-BAILEYS instance disconnects (${instance.integration})`]));
      return sendJson(res, 200, stateBody(sim.disconnect(name, mode)));
    }
    if (m[2] === 'templates') {
      if (!Array.isArray(body.templates)) throw new HttpError(400, errorBody(400, ['templates must be an array']));
      return sendJson(res, 200, sim.setTemplates(name, body.templates).templates);
    }
    if (m[2] === 'window') {
      if (typeof body.number !== 'string') throw new HttpError(400, errorBody(400, ['number is required']));
      const at = when(body.lastIncomingAt);
      return sendJson(res, 200, { lastIncomingAt: sim.setLastIncoming(name, body.number, at ?? null).lastIncomingAt });
    }
    if (typeof body.from !== 'string' || typeof body.text !== 'string') throw new HttpError(400, errorBody(400, ['from and text are required']));
    return sendJson(res, 200, sim.receiveMessage(name, body.from, body.text, { lid: body.lid, pushName: body.pushName, at: when(body.at) ?? undefined }));
  }
  throw new HttpError(404, errorBody(404, [`Cannot ${method} ${path}`]));
}
