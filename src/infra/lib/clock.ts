/**
 * The time the dispatch rules see. Tests move it to cross sending windows without waiting; in
 * production the offset is always 0.
 */
let offsetMs = 0;

export const clock = {
  now(): Date {
    return new Date(Date.now() + offsetMs);
  },
  ms(): number {
    return Date.now() + offsetMs;
  },
};

export function setClockOffset(ms: number) {
  offsetMs = ms;
}
