import { AsyncLocalStorage } from "node:async_hooks";

/**
 * A helpdesk's request pacing: at most `ratePerSecond` requests, evenly spaced (so no window of any
 * length sees more than the configured rate), and a pause for everybody after a 429's Retry-After.
 * When a pause ends, one request goes first and the others wait for its answer: a helpdesk still
 * limiting gets one request per Retry-After, not the whole backlog (deliveries and the way back's
 * polls share the limiter). Every request of a driver takes a slot, lookups included.
 *
 * Who gets a slot: not whoever asked first, but the waiting request with the best rank (the
 * delivery's rank, docs/reliability.md "Delivery order": a P1 open before a P3 comment), aged one
 * step per LIMITER_AGING_MS waited so nobody waits for ever. The rank comes from the delivery that
 * is running (`withDeliveryRank`), so drivers need not pass it through every request.
 *
 * With several replicas the slots can come from a shared budget (the PostgreSQL store's
 * `request_budgets` row per helpdesk): each slot is reserved there, so the replicas together keep
 * the rate, and a Retry-After one replica hears holds back the others too.
 */
export interface RateLimiter {
  /** Waits until a request may be sent; call the returned function once its answer is in. */
  take(): Promise<() => void>;
  /** No request before `ms` from now (Retry-After). */
  pause(ms: number): void;
  /** The configured rate (requests per second); undefined when unlimited. */
  readonly ratePerSecond: number | undefined;
}

/** Slots shared by every replica: reserve() answers how long to wait for the reserved slot. */
export interface SharedRequestBudget {
  /** Reserves the next slot `intervalMs` after the last one reserved (or now, or the end of a pause); resolves with the wait in ms. */
  reserve(intervalMs: number): Promise<number>;
  /** No slot for anybody before `ms` from now. */
  pause(ms: number): Promise<void>;
}

export interface RateLimiterOptions {
  now?: () => number;
  /** Where slots come from when several replicas share the helpdesk (undefined: this process alone). */
  shared?: SharedRequestBudget;
}

/** A request made outside any delivery (the way back's polls and reads): between escalations and comments. */
export const UNRANKED_REQUEST = 5;
/** How long a waiting request waits for each step it moves up among the waiters. */
export const LIMITER_AGING_MS = 5_000;

const rankOfDelivery = new AsyncLocalStorage<number>();

/** Runs a delivery so that every request it makes waits for its slot with this rank. */
export function withDeliveryRank<T>(rank: number, fn: () => Promise<T>): Promise<T> {
  return rankOfDelivery.run(rank, fn);
}

/** The rank of the delivery running now (UNRANKED_REQUEST outside one). */
export function currentRank(): number {
  return rankOfDelivery.getStore() ?? UNRANKED_REQUEST;
}

interface Waiter {
  rank: number;
  since: number;
  seq: number;
  grant: (answered: () => void) => void;
}

/** The waiter to serve next: the lowest rank after ageing, then the first to ask. */
export function nextWaiter<W extends Pick<Waiter, "rank" | "since" | "seq">>(waiting: readonly W[], now: number): number {
  let best = -1;
  let bestScore = 0;
  for (let i = 0; i < waiting.length; i++) {
    const w = waiting[i] as W;
    const score = w.rank - (now - w.since) / LIMITER_AGING_MS;
    if (best < 0 || score < bestScore || (score === bestScore && w.seq < (waiting[best] as W).seq)) {
      best = i;
      bestScore = score;
    }
  }
  return best;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createRateLimiter(ratePerSecond: number | undefined, options: RateLimiterOptions = {}): RateLimiter {
  const now = options.now ?? Date.now;
  const shared = options.shared;
  const rate = ratePerSecond && ratePerSecond > 0 ? ratePerSecond : undefined;
  // 2 % slower than the rate: timers fire late by a few ms, and a late request followed by an on-time
  // one must still not put one request too many into any window the helpdesk measures.
  const interval = rate ? 1020 / rate : 0;
  let nextSlot = 0;
  let pausedUntil = 0;
  /** After a pause, the next request is a probe; the others wait for its answer. */
  let probeNext = false;
  let probing: Promise<void> | undefined;
  const waiting: Waiter[] = [];
  let seq = 0;
  let dispatching = false;
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

  /** The wait for the next slot, reserved now. */
  async function reserveSlot(): Promise<number> {
    if (shared) {
      try {
        return await shared.reserve(interval);
      } catch {
        // The shared budget is unreachable (the database is down, so deliveries fail anyway): pace locally.
      }
    }
    const t = now();
    const at = Math.max(t, nextSlot);
    nextSlot = at + interval;
    return at - t;
  }

  /** Hands out slots, one at a time, to the best waiter at the moment each slot comes. */
  async function dispatch(): Promise<void> {
    if (dispatching) return;
    dispatching = true;
    try {
      while (waiting.length > 0) {
        const t = now();
        if (t < pausedUntil) {
          await sleep(pausedUntil - t);
          continue;
        }
        if (probing) {
          await probing;
          continue;
        }
        if (interval > 0) {
          const wait = await reserveSlot();
          if (wait > 0) await sleep(wait);
          // A pause (or a probe) that began while the slot was coming still holds everybody back.
          if (now() < pausedUntil || probing) continue;
        }
        const [w] = waiting.splice(nextWaiter(waiting, now()), 1);
        w?.grant(admit());
      }
    } finally {
      dispatching = false;
    }
  }

  return {
    ratePerSecond: rate,
    take() {
      return new Promise<() => void>((grant) => {
        waiting.push({ rank: currentRank(), since: now(), seq: seq++, grant });
        void dispatch();
      });
    },
    pause(ms) {
      pausedUntil = Math.max(pausedUntil, now() + ms);
      probeNext = true;
      shared?.pause(ms).catch(() => {});
    },
  };
}
