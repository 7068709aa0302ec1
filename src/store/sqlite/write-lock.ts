/**
 * A lock that two threads of one process share, so that two SQLite connections on one database take
 * turns writing without ever waiting inside SQLite: a `BEGIN IMMEDIATE` that finds the other
 * connection writing would spin in SQLite's busy handler (sleeping 1, 2, 5 … 100 ms at a time) and
 * block its thread's event loop meanwhile. Waiting here is `Atomics.waitAsync`: the event loop goes on.
 *
 * Not first come, first served: a busy main thread notices that the lock is free only when its event
 * loop gets round to it, and a strict queue would keep the ingest thread waiting for that too (a
 * convoy: measured, 13–28 ms per notification). So whoever finds the lock free takes it, unless the
 * other side has been waiting longer than HANDOFF_AFTER_MS: then it steps back until the other has
 * had its turn, but for twice that at most, so that a stalled event loop on the other side (a long
 * garbage collection) does not stall this one too.
 */
export interface WriteLock {
  /** The shared state: the other thread joins it with `joinWriteLock(buffer)`. */
  readonly buffer: SharedArrayBuffer;
  /** Resolves when this holder may write; every `acquire` must be followed by one `release`. */
  acquire(): Promise<void>;
  release(): void;
  /**
   * The other side is gone (its thread stopped): frees the lock if it held it and forgets that it
   * was waiting, so this side does not wait for a holder that will never release.
   */
  releaseOther(): void;
}

/** How long one side may be kept waiting while the other takes the lock again and again. */
export const HANDOFF_AFTER_MS = 2;

/** Bytes: one Int32 (0 free, else 1 + the holding side), padding, then one BigInt64 per side (ms it waits since, 0 = not waiting). */
const BYTES = 8 + 2 * BigInt64Array.BYTES_PER_ELEMENT;
const FREE = 0;

/** The lock of the side that creates it (the main thread). */
export function createWriteLock(): WriteLock {
  return lockOf(new SharedArrayBuffer(BYTES), 0);
}

/** The other side's handle on the same lock (the ingest thread). */
export function joinWriteLock(buffer: SharedArrayBuffer): WriteLock {
  if (buffer.byteLength !== BYTES) throw new Error(`a write lock's buffer has ${BYTES} bytes, not ${buffer.byteLength}`);
  return lockOf(buffer, 1);
}

function lockOf(buffer: SharedArrayBuffer, side: 0 | 1): WriteLock {
  const state = new Int32Array(buffer, 0, 1);
  const waiting = new BigInt64Array(buffer, 8, 2);
  const other = side === 0 ? 1 : 0;
  const mine = 1 + side;
  const handOff = BigInt(HANDOFF_AFTER_MS);
  return {
    buffer,
    async acquire() {
      const since = BigInt(Date.now());
      Atomics.store(waiting, side, since);
      let steppedBackSince: bigint | undefined;
      try {
        for (;;) {
          const now = BigInt(Date.now());
          const theirs = Atomics.load(waiting, other);
          const theyWaitLonger = theirs !== 0n && theirs < since && now - theirs >= handOff;
          if (!theyWaitLonger) steppedBackSince = undefined;
          else steppedBackSince ??= now;
          const stepBack = theyWaitLonger && now - (steppedBackSince ?? now) < 2n * handOff;
          if (!stepBack && Atomics.compareExchange(state, 0, FREE, mine) === FREE) {
            if (theirs !== 0n) Atomics.notify(state, 0); // a side stepping back for us waits for this
            return;
          }
          const seen = Atomics.load(state, 0);
          // Freed between the exchange and this read: try again at once rather than sleep on a free lock.
          if (seen === FREE && !stepBack) continue;
          // Woken by a release, or (stepping back) by the other side taking the lock; the timeout
          // re-checks the other side's waiting time, which changes without a notification.
          const wait = Atomics.waitAsync(state, 0, seen, stepBack ? HANDOFF_AFTER_MS : 50);
          if (wait.async) await wait.value;
        }
      } finally {
        Atomics.store(waiting, side, 0n);
      }
    },
    release() {
      Atomics.compareExchange(state, 0, mine, FREE);
      Atomics.notify(state, 0);
    },
    releaseOther() {
      Atomics.store(waiting, other, 0n);
      if (Atomics.compareExchange(state, 0, 1 + other, FREE) === 1 + other) Atomics.notify(state, 0);
    },
  };
}
