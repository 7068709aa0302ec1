/**
 * A helpdesk's request pacing: at most `ratePerSecond` requests, evenly spaced (so no window of any
 * length sees more than the configured rate), and a pause for everybody after a 429's Retry-After.
 * When a pause ends, one request goes first and the others wait for its answer: a helpdesk still
 * limiting gets one request per Retry-After, not the whole backlog (deliveries and the way back's
 * polls share the limiter). Every request of a driver takes a slot, lookups included.
 */
export interface RateLimiter {
  /** Waits until a request may be sent; call the returned function once its answer is in. */
  take(): Promise<() => void>;
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
  /** After a pause, the next request is a probe; the others wait for its answer. */
  let probeNext = false;
  let probing: Promise<void> | undefined;
  const nothing = () => {};
  const admit = (): (() => void) => {
    if (!probeNext) return nothing;
    probeNext = false;
    let finish = nothing;
    probing = new Promise<void>((resolve) => {
      finish = resolve;
    });
    return () => {
      probing = undefined;
      finish();
    };
  };
  return {
    async take() {
      for (;;) {
        const t = now();
        if (t < pausedUntil) {
          await sleep(pausedUntil - t);
          continue;
        }
        if (probing) {
          await probing;
          continue;
        }
        if (interval === 0) return admit();
        const at = Math.max(t, nextSlot);
        nextSlot = at + interval;
        if (at > t) await sleep(at - t);
        // A pause (or a probe) that began while this request waited for its slot still holds it back.
        if (now() < pausedUntil || probing) continue;
        return admit();
      }
    },
    pause(ms) {
      pausedUntil = Math.max(pausedUntil, now() + ms);
      probeNext = true;
    },
  };
}
