import { describe, expect, it } from "vitest";
import { parseDuration } from "../model/duration.js";
import { compileCondition } from "./condition.js";
import { parseMatcher } from "./matcher.js";

describe("parseMatcher", () => {
  const labels = { alertname: "HostHighCpu", severity: "critical", instance: "web-1:9100", empty: "" };
  it.each([
    // [why, matcher, expected]
    ["= matches an equal value", 'alertname="HostHighCpu"', true],
    ["= is case-sensitive", 'alertname="hosthighcpu"', false],
    ["!= matches a different value", 'severity!="warning"', true],
    ["=~ is fully anchored: a prefix is not a match", 'alertname=~"Host"', false],
    ["=~ alternatives match as a whole", 'severity=~"warning|critical"', true],
    ["!~ negates the anchored regex", 'severity!~"warn.*"', true],
    ["a missing label matches the empty string", 'team=""', true],
    ["a missing label does not equal a value", 'team="infra"', false],
    ["!= on a missing label matches", 'team!="infra"', true],
    ["unquoted values are accepted", "severity=critical", true],
    ["escaped quotes inside a value", 'instance="web-1:9100"', true],
    ["regex special characters in = are literal", 'instance="web-1.9100"', false],
    ["spaces around the operator are allowed", 'severity = "critical"', true],
  ])("%s", (_why, text, expected) => {
    expect(parseMatcher(text).matches(labels)).toBe(expected);
  });

  it("decodes escapes in quoted values", () => {
    expect(parseMatcher('msg="say \\"hi\\""').value).toBe('say "hi"');
  });

  it.each([
    ["no operator", "alertname", /want name="value"/],
    ["bad label name", '1abc="x"', /want name="value"/],
    ["unbalanced quote", 'a="x', /unbalanced quotes/],
    ["invalid regex", 'a=~"("', /invalid regex/],
  ])("rejects %s", (_why, text, message) => {
    expect(() => parseMatcher(text)).toThrow(message);
  });
});

describe("compileCondition", () => {
  it.each([
    // [why, expression, value, expected]
    ["> above the threshold", "value > 80", 83.4, true],
    ["> at the threshold is false", "value > 80", 80, false],
    [">= at the threshold", "value >= 80", 80, true],
    ["< below", "value < 1", 0.5, true],
    ["<=", "value <= 1", 1, true],
    ["==", "value == 1", 1, true],
    ["!=", "value != 1", 2, true],
    ["a percent sign after the number is allowed", "value > 80%", 81, true],
    ["and needs both", "value > 80 and value <= 95", 96, false],
    ["and inside the band", "value > 80 and value <= 95", 90, true],
    ["or needs one", "value < 1 or value > 99", 100, true],
    ["and binds tighter than or", "value < 1 or value > 50 and value < 60", 55, true],
    ["an alert without a value never matches", "value > 80", undefined, false],
    ["negative thresholds", "value < -5", -10, true],
    ["exponent notation", "value > 1e3", 1001, true],
  ])("%s", (_why, expr, value, expected) => {
    expect(compileCondition(expr)({ value })).toBe(expected);
  });

  it.each(["cpu > 80", "value >> 80", "value > eighty", "value > 80 and"])("rejects %j", (expr) => {
    expect(() => compileCondition(expr)).toThrow(/bad comparison/);
  });
});

describe("parseDuration", () => {
  it.each([
    ["30s", 30_000],
    ["10m", 600_000],
    ["1h", 3_600_000],
    ["24h", 86_400_000],
    ["7d", 604_800_000],
    ["1h30m", 5_400_000],
    ["500ms", 500],
    ["10", undefined],
    ["1.5h", undefined],
    ["", undefined],
  ])("%j → %j", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
});
