import { describe, expect, it } from "vitest";
import { hasMarker, matcherFilter, matchersFor, silenceComment } from "./client.js";

describe("matchersFor", () => {
  it("equality matchers of every label, sorted by name (code points, not locale)", () => {
    expect(matchersFor({ job: "node", Zone: "eu", alertname: "DiskFull", instance: "" })).toEqual([
      { name: "Zone", value: "eu", isRegex: false, isEqual: true },
      { name: "alertname", value: "DiskFull", isRegex: false, isEqual: true },
      { name: "instance", value: "", isRegex: false, isEqual: true },
      { name: "job", value: "node", isRegex: false, isEqual: true },
    ]);
  });
});

describe("matcherFilter: Alertmanager's matcher syntax, which unescapes \\\\, \\\" and \\n inside quotes", () => {
  it.each([
    ["a plain value", "db-1:9100", 'instance="db-1:9100"'],
    ["a double quote, which would end the value", 'say "hi"', 'instance="say \\"hi\\""'],
    ['a backslash, escaped before the quotes are (or \\" would become \\\\")', 'a\\"b', 'instance="a\\\\\\"b"'],
    ["a trailing backslash, which would escape the closing quote", "end\\", 'instance="end\\\\"'],
    ["a newline", "two\nlines", 'instance="two\\nlines"'],
    ["regex characters, which mean nothing to an equality matcher", ".*{a=~b},c", 'instance=".*{a=~b},c"'],
  ])("%s", (_why, value, filter) => {
    expect(matcherFilter({ name: "instance", value })).toBe(filter);
  });
});

describe("hasMarker: a ticket key as a whole word of the comment", () => {
  it.each([
    ["the key in alertdesk's comment", silenceComment("ad-1f-1", "https://h/t/1"), "ad-1f-1", true],
    ["a longer key that starts with it", silenceComment("ad-1f-12", undefined), "ad-1f-1", false],
    ["a key that ends with it", "ticket xad-1f-1", "ad-1f-1", false],
    ["followed by punctuation", "(ad-1f-1).", "ad-1f-1", true],
    ["a second occurrence that is whole", "ad-1f-12 and ad-1f-1", "ad-1f-1", true],
    ["an empty marker, which would match everything", "anything", "", false],
  ])("%s", (_why, comment, marker, found) => {
    expect(hasMarker(comment, marker)).toBe(found);
  });
});

describe("silenceComment", () => {
  it("the key first (the marker), then the URL and the note when there are", () => {
    expect(silenceComment("ad-1f-1", "https://h/t/1", "acknowledged by ops")).toBe("alertdesk ticket ad-1f-1 · https://h/t/1 · acknowledged by ops");
    expect(silenceComment("ad-1f-1", undefined)).toBe("alertdesk ticket ad-1f-1");
  });
});
