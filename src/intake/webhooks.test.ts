import { describe, expect, it } from "vitest";
import { nestedDeeperThan } from "./read-body.js";
import { createGate } from "./webhooks.js";

const bytes = (s: string) => Buffer.from(s, "utf8");

describe("nestedDeeperThan: the depth of a JSON text, before parsing it", () => {
  it.each([
    // [why, text, max, deeper]
    ["a webhook payload is 4 deep", '{"alerts":[{"labels":{"a":"b"}}]}', 4, false],
    ["one more level is over 4", '{"alerts":[{"labels":{"a":["b"]}}]}', 4, true],
    ["brackets inside a string do not count", '{"a":"[[[[[[[[{{{{{{"}', 1, false],
    ["an escaped quote does not end the string", '{"a":"\\"[[[[[[["}', 1, false],
    ["an escaped backslash before the closing quote ends it", '{"a":"\\\\","b":[[[]]]}', 3, true],
    ["siblings do not add up", "[[],[],[],[]]", 2, false],
    ["100,000 opening brackets", "[".repeat(100_000), 32, true],
    ["multi-byte characters are not brackets", '{"a":"€😀[é"}', 1, false],
  ])("%s", (_why, text, max, deeper) => {
    expect(nestedDeeperThan(bytes(text), max)).toBe(deeper);
  });
});

describe("createGate", () => {
  it("lets `slots` in at once, queues `waiting` more in order, refuses beyond, and passes each slot on once", () => {
    const gate = createGate(2, 2);
    const entered: string[] = [];
    const leaves = new Map<string, () => void>();
    const enter = (name: string) =>
      gate.enter((leave) => {
        entered.push(name);
        leaves.set(name, leave);
      });
    expect(enter("a")).not.toBe(false);
    expect(enter("b")).not.toBe(false);
    expect(enter("c")).not.toBe(false);
    expect(enter("d")).not.toBe(false);
    expect(enter("e")).toBe(false);
    expect(entered).toEqual(["a", "b"]);
    expect({ held: gate.held, waiting: gate.waiting }).toEqual({ held: 2, waiting: 2 });
    leaves.get("a")?.();
    leaves.get("a")?.(); // twice: the second does nothing
    expect(entered).toEqual(["a", "b", "c"]);
    leaves.get("b")?.();
    leaves.get("c")?.();
    leaves.get("d")?.();
    expect(entered).toEqual(["a", "b", "c", "d"]);
    expect({ held: gate.held, waiting: gate.waiting }).toEqual({ held: 0, waiting: 0 });
  });

  it("a waiter that gives up leaves the line without taking a slot", () => {
    const gate = createGate(1, 5);
    let leaveA = () => {};
    gate.enter((leave) => {
      leaveA = leave;
    });
    const entered: string[] = [];
    const giveUp = gate.enter(() => entered.push("b"));
    gate.enter(() => entered.push("c"));
    if (giveUp === false) throw new Error("refused");
    giveUp();
    leaveA();
    expect(entered).toEqual(["c"]);
  });
});
