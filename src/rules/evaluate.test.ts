import { describe, expect, it } from "vitest";
import type { Alert } from "../intake/notification.js";
import { dedupKey, evaluate } from "./evaluate.js";
import { compileRules } from "./load.js";

const RULES = `
defaults:
  priority: P3
  category: function
rules:
  - name: cpu-high
    matchers: ['alertname="HostHighCpu"', 'severity=~"warning|critical"']
    when: value > 80
    priority: P2
    category: performance
  - name: chatter
    matchers: ['severity="info"']
    ignore: true
  - name: flappy
    matchers: ['alertname="QueueLag"']
    reopen_within: 10m
    on_resolved: comment
    group_by: [alertname, cluster]
  - name: per-alert
    matchers: ['alertname="DiskFull"']
    group_by: ['...']
`;

function alert(labels: Record<string, string>, value?: number): Alert {
  const a: Alert = { fingerprint: "f", status: "firing", labels, annotations: {}, startsAt: "2026-01-01T00:00:00.000Z", generatorURL: "", links: {} };
  if (value !== undefined) a.value = value;
  return a;
}

describe("evaluate", () => {
  const rules = compileRules([{ file: "rules.yaml", text: RULES }]);
  it.each([
    // [why, labels, value, rule, priority, category, ignore]
    ["CPU above 80 % is P2 performance", { alertname: "HostHighCpu", severity: "warning" }, 83.4, "cpu-high", "P2", "performance", false],
    ["CPU at 80 % does not match the > 80 rule: defaults", { alertname: "HostHighCpu", severity: "warning" }, 80, null, "P3", "function", false],
    ["CPU alert without a value does not match a when: rule", { alertname: "HostHighCpu", severity: "warning" }, undefined, null, "P3", "function", false],
    ["severity outside the regex does not match", { alertname: "HostHighCpu", severity: "page" }, 90, null, "P3", "function", false],
    ["info alerts are ignored", { alertname: "Anything", severity: "info" }, undefined, "chatter", "P3", "function", true],
    ["first match wins: cpu-high before chatter", { alertname: "HostHighCpu", severity: "critical" }, 99, "cpu-high", "P2", "performance", false],
    ["no rule matches: defaults", { alertname: "Other" }, undefined, null, "P3", "function", false],
  ] as const)("%s", (_why, labels, value, rule, priority, category, ignore) => {
    const d = evaluate(alert({ ...labels }, value), rules);
    expect({ rule: d.rule, priority: d.priority, category: d.category, ignore: d.ignore }).toEqual({ rule, priority, category, ignore });
  });

  it("carries the lifecycle knobs of the matching rule", () => {
    const d = evaluate(alert({ alertname: "QueueLag", cluster: "eu" }), rules);
    expect(d).toMatchObject({ rule: "flappy", reopenWithinMs: 600_000, onResolved: "comment", groupBy: ["alertname", "cluster"] });
  });

  it("defaults: reopen within 24h, solve on resolve, no group_by", () => {
    const d = evaluate(alert({ alertname: "Other" }), rules);
    expect(d.reopenWithinMs).toBe(86_400_000);
    expect(d.onResolved).toBe("solve");
    expect(d.groupBy).toBeUndefined();
  });
});

describe("dedupKey", () => {
  const rules = compileRules([{ file: "rules.yaml", text: RULES }]);
  const groupLabels = { alertname: "QueueLag" };
  it.each([
    ["defaults: the notification's groupLabels", { alertname: "Other", instance: "a" }, '{alertname="QueueLag"}'],
    ["group_by picks the named labels, sorted", { alertname: "QueueLag", cluster: "eu", instance: "a" }, '{alertname="QueueLag", cluster="eu"}'],
    ["group_by skips labels the alert lacks", { alertname: "QueueLag" }, '{alertname="QueueLag"}'],
    ["['...'] uses every label", { alertname: "DiskFull", instance: "a", mount: "/" }, '{alertname="DiskFull", instance="a", mount="/"}'],
  ])("%s", (_why, labels, key) => {
    const a = alert(labels);
    expect(dedupKey(a, evaluate(a, rules), groupLabels)).toBe(key);
  });

  it("quotes values so label sets cannot collide", () => {
    const a = alert({ alertname: "X" });
    expect(dedupKey(a, evaluate(a, rules), { a: 'b", c="d' })).toBe('{a="b\\", c=\\"d"}');
  });
});
