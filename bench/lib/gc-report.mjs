// Preloaded into a server process whose memory a benchmark measures
// (node --expose-gc --import <this file> …): on SIGUSR2 it collects garbage until its resident memory
// settles (freed pages go back to the system a little after a collection, from background threads),
// then prints a JSON line {"memory": {rss, rssAnon, heapUsed, external, arrayBuffers}} in bytes. rssAnon (Linux) is the
// anonymous part of RSS: memory the process allocated, without the pages of its executable and
// libraries that page in as new code paths run.
import { readFileSync } from 'node:fs';

function rssAnon() {
  try {
    const kb = /^RssAnon:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : null;
  } catch {
    return null;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

process.on('SIGUSR2', async () => {
  // Settled: three readings in a row within 64 KiB of each other, half a second apart (at most 15 s).
  const readings = [];
  for (let i = 0; i < 30; i++) {
    globalThis.gc();
    globalThis.gc();
    await sleep(500);
    readings.push(rssAnon() ?? process.memoryUsage().rss);
    const last = readings.slice(-3);
    if (last.length === 3 && Math.max(...last) - Math.min(...last) < 64 * 1024) break;
  }
  const m = process.memoryUsage();
  const anon = rssAnon();
  process.stdout.write(
    `${JSON.stringify({ memory: { rss: m.rss, rssAnon: anon ?? m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers } })}\n`,
  );
});
