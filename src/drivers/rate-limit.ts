/**
 * A helpdesk's request pacing: at most `ratePerSecond` requests, evenly spaced (so no window of any
 * length sees more than the configured rate), and a pause for everybody after a 429's Retry-After.
 * Every request of a driver takes a slot, lookups included.
 */
export interface RateLimiter {
  /** Waits until a request may be sent. */
  take(): Promise<void>;
  /** No request before `ms` from now (Retry-After). */
  pause(ms: number): void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createRateLimiter(ratePerSecond: number | undefined, now: () => number = Date.now): RateLimiter {
  // 2 % slower than the rate: timers fire late by a few ms, and a late request followed by an on-time
  // one must still not put one request too many into any window the helpdesk measures.
  const interval = ratePerSecond && ratePerSecond > 0 ? 1020 / ratePerSecond : 0;
  let nextSlot = 0;
  let pausedUntil = 0;
  return {
    async take() {
      for (;;) {
        const t = now();
        if (t < pausedUntil) {
          await sleep(pausedUntil - t);
          continue;
        }
        if (interval === 0) return;
        const at = Math.max(t, nextSlot);
        nextSlot = at + interval;
        if (at > t) await sleep(at - t);
        // A pause that began while this request waited for its slot still holds it back.
        if (now() < pausedUntil) continue;
        return;
      }
    },
    pause(ms) {
      pausedUntil = Math.max(pausedUntil, now() + ms);
    },
  };
}
