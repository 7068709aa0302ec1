import { describe, expect, it } from "vitest";
import { createRateLimiter } from "./rate-limit.js";

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
});
