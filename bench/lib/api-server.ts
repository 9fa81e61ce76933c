// The product's API server in its own process for HTTP benchmarks; prints {"port": …} when listening.
import { createApp } from '../../src/api/server.js';

const app = createApp();
const url = await app.listen(0, '127.0.0.1');
await app.responseCache?.ready();
process.stdout.write(`${JSON.stringify({ port: Number(new URL(url).port) })}\n`);
process.on('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});
