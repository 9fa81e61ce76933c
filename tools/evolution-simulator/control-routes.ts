/**
 * The simulator's own routes, under `/__simulator/` (not Evolution's API; the global key only): the
 * record of accepted sends, the state, the behaviour knobs, and an instance's connection and incoming
 * messages.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody } from '../../src/infra/evolution/wire.js';
import type { SimulatorCore } from './core.js';
import { HttpError, readJson, requireApiKey, sendJson } from './http.js';
import type { SimInstance, SimulatorBehaviour } from './types.js';

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
      instances: [...sim.instances.values()].map((i) => ({ name: i.name, state: i.state, webhook: i.webhook?.url ?? null })),
    });
  }
  if (path === '/__simulator/behaviour' && method === 'PATCH') {
    return sendJson(res, 200, sim.configure((await readJson(req)) as Partial<SimulatorBehaviour>));
  }
  const m = path.match(/^\/__simulator\/instances\/([^/]+)\/(connection|incoming)$/);
  if (m && method === 'POST') {
    const name = decodeURIComponent(m[1] as string);
    if (!sim.instances.has(name)) throw new HttpError(404, errorBody(404, [`The "${name}" instance does not exist`]));
    const body = (await readJson(req)) as { state?: string; statusReason?: number; from?: string; text?: string; lid?: boolean };
    if (m[2] === 'connection') {
      if (!['open', 'connecting', 'close', 'refused'].includes(String(body.state))) {
        throw new HttpError(400, errorBody(400, ['state must be open, connecting, close or refused']));
      }
      const i = sim.setConnectionState(name, body.state as SimInstance['state'], body.statusReason);
      return sendJson(res, 200, { instance: { instanceName: i.name, state: i.state } });
    }
    if (typeof body.from !== 'string' || typeof body.text !== 'string') throw new HttpError(400, errorBody(400, ['from and text are required']));
    return sendJson(res, 200, sim.receiveMessage(name, body.from, body.text, { lid: body.lid }));
  }
  throw new HttpError(404, errorBody(404, [`Cannot ${method} ${path}`]));
}
