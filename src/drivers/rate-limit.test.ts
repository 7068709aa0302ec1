import { describe, expect, it } from "vitest";
import { createRateLimiter, currentRank, LIMITER_AGING_MS, nextWaiter, UNRANKED_REQUEST, withDeliveryRank } from "./rate-limit.js";

describe("rate limiter", () => {
  it("after a Retry-After pause, one request goes first and the others wait for its answer", async () => {
    const limiter = createRateLimiter(undefined);
    limiter.pause(30);
    const sent: (() => void)[] = [];
    const takers = [limiter.take(), limiter.take(), limiter.take()].map((p) => p.then((done) => void sent.push(done)));
    await Promise.race(takers);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sent).toHaveLength(1); // the probe; the other two wait for its answer, however long it takes
    sent[0]?.();
    await Promise.all(takers);
    expect(sent).toHaveLength(3);
  });

  it("a probe answered with another 429 pauses everybody again, and the next request probes again; without a pause nobody waits", async () => {
    const limiter = createRateLimiter(undefined);
    const a = await limiter.take();
    const b = await limiter.take(); // no pause: both at once
    a();
    b();
    limiter.pause(10);
    const probe = await limiter.take();
    limiter.pause(10); // its answer: 429 again
    probe();
    const sent: (() => void)[] = [];
    const takers = [limiter.take(), limiter.take()].map((p) => p.then((done) => void sent.push(done)));
    await Promise.race(takers);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(sent).toHaveLength(1);
    sent[0]?.();
    await Promise.all(takers);
    expect(sent).toHaveLength(2);
  });

  it("gives each slot to the best-ranked waiter, not to the first to ask", async () => {
    const limiter = createRateLimiter(50); // a slot every ~20 ms
    const order: string[] = [];
    const take = (name: string, rank: number) =>
      withDeliveryRank(rank, async () => {
        const done = await limiter.take();
        order.push(name);
        done();
      });
    await take("first", 6); // the free slot; the next comes ~20 ms later, and all of these wait for it
    const rest = [take("comment-1", 6), take("comment-2", 6), take("resolve", 4), take("p3-open", 2), take("p1-open", 0)];
    await Promise.all(rest);
    expect(order).toEqual(["first", "p1-open", "p3-open", "resolve", "comment-1", "comment-2"]);
  });

  it("takes the rank of the delivery running, and requests outside one are unranked", async () => {
    expect(currentRank()).toBe(UNRANKED_REQUEST);
    expect(await withDeliveryRank(2, async () => currentRank())).toBe(2);
    expect(await withDeliveryRank(0, () => withDeliveryRank(3, async () => currentRank()))).toBe(3);
  });

  it.each([
    {
      name: "lower rank first",
      waiting: [
        { rank: 6, waitedMs: 0 },
        { rank: 0, waitedMs: 0 },
      ],
      now: 0,
      expected: 1,
    },
    {
      name: "same rank: first to ask",
      waiting: [
        { rank: 3, waitedMs: 0 },
        { rank: 3, waitedMs: 0 },
      ],
      now: 0,
      expected: 0,
    },
    {
      name: "a long wait moves a comment up",
      waiting: [
        { rank: 6, waitedMs: 7 * LIMITER_AGING_MS },
        { rank: 0, waitedMs: 0 },
      ],
      now: 0,
      expected: 0,
    },
    {
      name: "not yet long enough",
      waiting: [
        { rank: 6, waitedMs: 5 * LIMITER_AGING_MS },
        { rank: 0, waitedMs: 0 },
      ],
      now: 0,
      expected: 1,
    },
    { name: "nobody waiting", waiting: [], now: 0, expected: -1 },
  ])("nextWaiter: $name", ({ waiting, expected }) => {
    const now = 1_000_000;
    expect(
      nextWaiter(
        waiting.map((w, seq) => ({ rank: w.rank, since: now - w.waitedMs, seq })),
        now,
      ),
    ).toBe(expected);
  });

  it("with a shared budget, every slot is reserved there and a pause is told to it", async () => {
    const reserved: number[] = [];
    const paused: number[] = [];
    const limiter = createRateLimiter(10, {
      shared: {
        reserve: async (intervalMs) => {
          reserved.push(intervalMs);
          return reserved.length === 1 ? 0 : 5; // the other replicas took the slots in between
        },
        pause: async (ms) => void paused.push(ms),
      },
    });
    for (let i = 0; i < 3; i++) (await limiter.take())();
    expect(reserved).toEqual([102, 102, 102]); // 1020 ms / 10, 2 % slower than the rate
    limiter.pause(20);
    expect(paused).toEqual([20]);
  });

  it("paces locally when the shared budget cannot be reached", async () => {
    const limiter = createRateLimiter(100, { shared: { reserve: () => Promise.reject(new Error("down")), pause: () => Promise.reject(new Error("down")) } });
    for (let i = 0; i < 3; i++) (await limiter.take())();
    limiter.pause(1);
    expect(limiter.ratePerSecond).toBe(100);
  });
});
