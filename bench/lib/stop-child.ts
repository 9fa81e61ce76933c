import type { LineChild } from './child-lines.js';

/** Stops a child process in order (SIGTERM, its shutdown), or kills it if it has not exited after `graceMs`. */
export async function stopLineChild(c: LineChild<unknown>, graceMs = 20_000) {
  if (c.child.exitCode !== null || c.child.signalCode !== null) return;
  const exited = new Promise((r) => c.child.once('exit', r));
  c.child.kill('SIGTERM');
  const killer = setTimeout(() => c.child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(killer);
}
