import { describe, expect, it } from "vitest";
import { createLogLimiter } from "./log-limit.js";

function limiter(perWindow = 3, windowMs = 1000) {
  let t = 0;
  const timers: { at: number; fn: () => void }[] = [];
  const reports: number[] = [];
  const l = createLogLimiter({
    perWindow,
    windowMs,
    onSuppressed: (n) => reports.push(n),
    now: () => t,
    schedule: (fn, ms) => timers.push({ at: t + ms, fn }),
  });
  return {
    l,
    reports,
    /** Moves the clock, running the timers that are due. */
    advance(ms: number) {
      t += ms;
      for (const timer of timers.splice(0).sort((a, b) => a.at - b.at)) {
        if (timer.at <= t) timer.fn();
        else timers.push(timer);
      }
    },
    allowed: (n: number) => Array.from({ length: n }, () => l.allow()).filter(Boolean).length,
  };
}

describe("createLogLimiter", () => {
  it("writes up to perWindow lines a window, counts the rest and says how many once the window is over", () => {
    const x = limiter(3);
    expect(x.allowed(1000)).toBe(3);
    expect(x.l.suppressed).toBe(997);
    expect(x.reports).toEqual([]);
    x.advance(1000);
    expect(x.reports).toEqual([997]);
    expect(x.l.suppressed).toBe(0);
  });

  it("starts a new budget each window, and a window that left nothing out reports nothing", () => {
    const x = limiter(3);
    expect(x.allowed(3)).toBe(3);
    x.advance(1000);
    expect(x.allowed(3)).toBe(3);
    x.advance(1000);
    expect(x.reports).toEqual([]);
  });

  it("a flood over many windows costs perWindow lines plus one summary per window", () => {
    const x = limiter(10);
    let written = 0;
    for (let s = 0; s < 60; s++) {
      written += x.allowed(10_000);
      x.advance(1000);
    }
    expect(written).toBe(600);
    expect(x.reports).toHaveLength(60);
    expect(x.reports.reduce((a, b) => a + b, 0)).toBe(60 * 9990);
  });

  it("reports a window's count on the next line when its timer could not run yet (a busy event loop)", () => {
    let t = 0;
    const reports: number[] = [];
    const l = createLogLimiter({ perWindow: 1, windowMs: 1000, onSuppressed: (n) => reports.push(n), now: () => t, schedule: () => {} });
    l.allow();
    l.allow();
    l.allow();
    t = 1500;
    expect(l.allow()).toBe(true);
    expect(reports).toEqual([2]);
  });
});
