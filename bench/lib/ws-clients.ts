// WebSocket clients for the benchmarks, all in the benchmark's process: graphql-ws clients speak the
// graphql-transport-ws protocol directly over `ws` (as a dashboard's client does on the wire), so a
// client costs the same on both sides of a comparison with plain `ws` clients.
import WebSocket from 'ws';

/** Called with every frame a connection receives once it is ready. */
export type OnFrame = (data: Buffer) => void;

interface Pending {
  socket: WebSocket;
  resolve(socket: WebSocket): void;
  reject(err: Error): void;
  timeoutMs: number;
}

/** Wires a socket's readiness: `isReady` sees the frames until it says true; later frames go to `onFrame`. */
function handshake(p: Pending, onOpen: () => void, isReady: (data: Buffer) => boolean, onFrame?: OnFrame) {
  let ready = false;
  const timer = setTimeout(() => fail(new Error(`not ready after ${p.timeoutMs} ms`)), p.timeoutMs);
  const fail = (err: Error) => {
    if (ready) return;
    ready = true;
    clearTimeout(timer);
    p.socket.terminate();
    p.reject(err);
  };
  p.socket.on('open', onOpen);
  p.socket.on('message', (data: Buffer) => {
    if (ready) {
      onFrame?.(data);
      return;
    }
    try {
      if (!isReady(data)) return;
    } catch (err) {
      fail(err as Error);
      return;
    }
    ready = true;
    clearTimeout(timer);
    p.resolve(p.socket);
  });
  p.socket.on('error', fail);
  p.socket.on('close', (code, reason) => fail(new Error(`closed before ready: ${code} ${reason.toString()}`)));
}

/**
 * One graphql-ws connection authenticated with `key` (connectionParams.authorization), resolved once
 * the server acknowledged it, or, with `subscribe`, once the subscription's first result arrived.
 */
export function graphqlWsConnection(
  url: string,
  key: string,
  opts: { subscribe?: { query: string; variables?: Record<string, unknown> }; onFrame?: OnFrame; timeoutMs?: number } = {},
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, 'graphql-transport-ws');
    handshake(
      { socket, resolve, reject, timeoutMs: opts.timeoutMs ?? 30_000 },
      () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } })),
      (data) => {
        const msg = JSON.parse(data.toString()) as { type: string; payload?: { errors?: unknown } };
        if (msg.type === 'connection_ack') {
          if (!opts.subscribe) return true;
          socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: opts.subscribe }));
          return false;
        }
        if (msg.type === 'next' && !msg.payload?.errors) return true;
        throw new Error(`unexpected frame before ready: ${data.toString().slice(0, 500)}`);
      },
      opts.onFrame,
    );
  });
}

/** One plain `ws` connection to bench/lib/raw-ws-server.ts, resolved once the server greeted it. */
export function rawWsConnection(url: string, opts: { onFrame?: OnFrame; timeoutMs?: number } = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    handshake(
      { socket, resolve, reject, timeoutMs: opts.timeoutMs ?? 30_000 },
      () => undefined,
      (data) => {
        if (data.toString() === 'ready') return true;
        throw new Error(`unexpected frame before ready: ${data.toString().slice(0, 200)}`);
      },
      opts.onFrame,
    );
  });
}

/** Opens `count` connections, at most `concurrency` handshakes at a time; on a failure closes those opened and throws. */
export async function openMany(count: number, open: (i: number) => Promise<WebSocket>, concurrency = 50): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  let next = 0;
  let failure: unknown = null;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count && !failure) {
        const i = next++;
        try {
          sockets.push(await open(i));
        } catch (err) {
          failure ??= err;
        }
      }
    }),
  );
  if (failure) {
    closeAll(sockets);
    throw failure;
  }
  return sockets;
}

export function closeAll(sockets: WebSocket[]) {
  for (const s of sockets) s.terminate();
}
