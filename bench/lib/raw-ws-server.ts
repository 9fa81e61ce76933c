// The baseline of the WebSocket benchmarks, in its own process: a plain `ws` server that greets each
// connection with "ready" and, when RAW_CHANNEL is set, a Redis subscriber (its own connection) that
// forwards every message of that channel to every client as it is (encoded once, one text frame per
// client). Prints {"port": …} when listening.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { WebSocketServer } from 'ws';
import { REDIS_URL } from './measure.js';

const channel = process.env.RAW_CHANNEL;
const server = createServer((_req, res) => {
  res.writeHead(426, { 'content-length': '0' });
  res.end();
});
const wss = new WebSocketServer({ server });
wss.on('connection', (socket) => socket.send('ready'));

let subscriber: Redis | null = null;
if (channel) {
  subscriber = new Redis(REDIS_URL, { maxRetriesPerRequest: null, enableReadyCheck: false });
  subscriber.on('messageBuffer', (_channel: Buffer, message: Buffer) => {
    for (const client of wss.clients) client.send(message, { binary: false });
  });
  await subscriber.subscribe(channel);
}

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => {
  for (const client of wss.clients) client.terminate();
  wss.close();
  void subscriber?.quit();
  server.close(() => process.exit(0));
});
