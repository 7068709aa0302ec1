import { describe, expect, it } from "vitest";
import { commonEntries, cutMarker, cutMarkerOf, labelOf, labelSet, shortLabels, shortValue } from "./labels.js";

describe("label sets without a prototype", () => {
  it("labelSet copies own entries, __proto__ included, into a map without a prototype", () => {
    const set = labelSet(JSON.parse('{"__proto__":"p","constructor":"c"}') as Record<string, string>);
    expect(Object.getPrototypeOf(set)).toBeNull();
    expect(Object.keys(set)).toEqual(["__proto__", "constructor"]);
    expect(set.toString).toBeUndefined();
  });

  it("labelOf reads own entries only, also of an ordinary object", () => {
    expect(labelOf({ a: "1" }, "constructor")).toBeUndefined();
    expect(labelOf({ constructor: "c" } as Record<string, string>, "constructor")).toBe("c");
  });

  it("commonEntries: a label only one alert has is not common, whatever its name", () => {
    // Ordinary objects (a test's, a rule test's): m.constructor is Object's function, not undefined.
    expect(commonEntries([{ constructor: "c", a: "1" } as Record<string, string>, { a: "1" }])).toEqual({ a: "1" });
    expect(Object.getPrototypeOf(commonEntries([{ a: "1" }]))).toBeNull();
    expect(commonEntries([])).toEqual({});
  });
});

describe("shortValue", () => {
  it.each([
    ["a value within the limit is itself", "abc", 3, "abc"],
    ["a longer one says how much it left out", "abcdef", 3, "abc… (3 more characters)"],
    ["never half a surrogate pair", "a😀b", 2, "a… (3 more characters)"],
  ])("%s", (_why, value, chars, shown) => {
    expect(shortValue(value, chars)).toBe(shown);
  });

  it("keeps the marker of a value intake cut, so the ticket says it was cut and how long it was", () => {
    const marker = cutMarker(9_437_184, "a".repeat(64));
    expect(marker).toBe("… [truncated by alertdesk: 9437184 bytes, sha256 aaaaaaaaaaaaaaaa]");
    const value = `${"x".repeat(2000)}${marker}`;
    expect(cutMarkerOf(value)).toBe(marker);
    expect(shortValue(value, 10)).toBe(`xxxxxxxxxx… (${value.length - 10} more characters)${marker}`);
    expect(cutMarkerOf("x".repeat(20))).toBeUndefined();
    expect(Object.getPrototypeOf(shortLabels({ a: value }, 10))).toBeNull();
  });
});
