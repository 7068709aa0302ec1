import { describe, expect, it } from "vitest";
import type { Alert } from "../model/alert.js";
import { dedupKey, evaluate, finishMatrix, legacyDedupKey } from "./evaluate.js";
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
  const group = { source: "alertmanager" as const, receiver: "ops", groupKey: '{}/{}:{alertname="QueueLag"}', groupLabels };
  it.each([
    [
      "defaults: the sender's group (source, receiver, group key)",
      { alertname: "Other", instance: "a" },
      'alertmanager receiver="ops" {}/{}:{alertname="QueueLag"}',
    ],
    ["group_by picks the named labels, sorted", { alertname: "QueueLag", cluster: "eu", instance: "a" }, '{alertname="QueueLag", cluster="eu"}'],
    ["group_by skips labels the alert lacks", { alertname: "QueueLag" }, '{alertname="QueueLag"}'],
    ["['...'] uses every label", { alertname: "DiskFull", instance: "a", mount: "/" }, '{alertname="DiskFull", instance="a", mount="/"}'],
  ])("%s", (_why, labels, key) => {
    const a = alert(labels);
    expect(dedupKey(a, evaluate(a, rules), group)).toBe(key);
  });

  it.each([
    ["two receivers with the same group key are two groups", { receiver: "team-b" }, 'alertmanager receiver="team-b" {}/{}:{alertname="QueueLag"}'],
    [
      "two routes with the same group labels are two groups",
      { groupKey: '{}/{team="db"}:{alertname="QueueLag"}' },
      'alertmanager receiver="ops" {}/{team="db"}:{alertname="QueueLag"}',
    ],
    ["Grafana's organisations are apart", { source: "grafana" as const, orgId: 2, groupKey: "{}:{}" }, 'grafana org=2 receiver="ops" {}:{}'],
    ["no group key (a hand-made payload): the group labels", { groupKey: "" }, 'alertmanager receiver="ops" {alertname="QueueLag"}'],
  ])("%s", (_why, change, key) => {
    const a = alert({ alertname: "Other" });
    expect(dedupKey(a, evaluate(a, rules), { ...group, ...change })).toBe(key);
  });

  it("quotes values so label sets cannot collide", () => {
    const a = alert({ alertname: "X" });
    expect(dedupKey(a, evaluate(a, rules), { ...group, groupKey: "", receiver: 'r" x="y', groupLabels: { a: 'b", c="d' } })).toBe(
      'alertmanager receiver="r\\" x=\\"y" {a="b\\", c=\\"d"}',
    );
  });

  it("a key longer than 1 KiB (group_by on long label values) is cut and hashed, so every store can index it", () => {
    const a = alert({ alertname: "QueueLag", cluster: "x".repeat(16_000) });
    const b = alert({ alertname: "QueueLag", cluster: `${"x".repeat(15_999)}y` });
    const ka = dedupKey(a, evaluate(a, rules), group);
    expect(ka.length).toBeLessThan(1200);
    expect(ka).toMatch(/^\{alertname="QueueLag", cluster="x+… sha256:[0-9a-f]{64}$/);
    expect(dedupKey(b, evaluate(b, rules), group)).not.toBe(ka);
  });

  it("the 0.1 key (group labels alone) is kept for continuing incidents after an upgrade", () => {
    expect(legacyDedupKey(group)).toBe('{alertname="QueueLag"}');
  });
});

describe("the extended language", () => {
  const rules = compileRules([
    {
      file: "rules.yaml",
      text: `
defaults:
  tags: [alertdesk]
response_targets:
  P1: 5m
matrix:
  urgency: { label: severity, map: { critical: high, warning: medium }, default: low }
  impact:
    label: impact
    width:
      - { when: "affected >= 10", level: high }
      - { when: "instances >= 3", level: medium }
rules:
  - name: runbook-pages
    matchers: ['alertname="Api5xx"']
    annotations: ['runbook_url=~"https://.+"']
    priority: P1
  - name: grafana-b
    matchers: ['alertname="GrafanaCpu"']
    value_from: B
    when: value > 80
    priority: P2
  - name: from-annotation
    matchers: ['alertname="Queue"']
    value_from: queue_depth
    when: value >= 1000
    priority: P2
  - name: tag-team
    matchers: ['team="db"']
    continue: true
    priority: P4
    tags: [db]
    assignee_group: dba
  - name: db-critical
    matchers: ['team="db"', 'severity="critical"']
    priority: P2
    tags: [critical]
    fields: { component: database }
  - name: by-matrix
    matchers: ['alertname="Outage"']
    priority: matrix
  - name: fixed-impact
    matchers: ['alertname="Partial"']
    priority: matrix
    impact: high
`,
    },
  ]);
  function alertWith(labels: Record<string, string>, extra: Partial<Alert> = {}): Alert {
    return { ...alert(labels), ...extra };
  }
  it.each([
    // [why, alert, expected subset of the decision]
    [
      "annotation matchers must match too",
      alertWith({ alertname: "Api5xx" }, { annotations: { runbook_url: "https://runbooks/api" } }),
      { rule: "runbook-pages", priority: "P1" },
    ],
    ["an annotation matcher that fails keeps the rule from matching", alertWith({ alertname: "Api5xx" }, { annotations: {} }), { rule: null }],
    ["value_from picks a Grafana refId", alertWith({ alertname: "GrafanaCpu" }, { value: 10, values: { A: 10, B: 91 } }), { rule: "grafana-b", value: 91 }],
    ["value_from on a refId the alert lacks: no value, no match", alertWith({ alertname: "GrafanaCpu" }, { value: 95, values: { A: 95 } }), { rule: null }],
    ["value_from names an annotation", alertWith({ alertname: "Queue" }, { annotations: { queue_depth: "1500" } }), { rule: "from-annotation", value: 1500 }],
    [
      "continue: a later rule adds tags and raises the priority",
      alertWith({ team: "db", severity: "critical" }),
      {
        rule: "tag-team",
        matched: ["tag-team", "db-critical"],
        priority: "P2",
        tags: ["alertdesk", "db", "critical"],
        assigneeGroup: "dba",
        fields: { component: "database" },
      },
    ],
    [
      "continue: with no later match, the first rule alone decides",
      alertWith({ team: "db", severity: "warning" }),
      { rule: "tag-team", matched: ["tag-team"], priority: "P4", tags: ["alertdesk", "db"] },
    ],
    ["defaults' tags apply to every alert", alertWith({ alertname: "Other" }), { rule: null, tags: ["alertdesk"] }],
    [
      "matrix: impact from a label, urgency from severity",
      alertWith({ alertname: "Outage", impact: "high", severity: "critical" }),
      { priority: "P1", matrix: { impact: "high", urgency: "high" } },
    ],
    [
      "matrix: impact left to the incident's width; the default impact meanwhile",
      alertWith({ alertname: "Outage", severity: "warning" }),
      { priority: "P4", matrix: { urgency: "medium" } },
    ],
    [
      "matrix: a rule's impact beats labels",
      alertWith({ alertname: "Partial", impact: "low", severity: "warning" }),
      { priority: "P2", matrix: { impact: "high", urgency: "medium" } },
    ],
  ] as const)("%s", (_why, a, expected) => {
    expect(evaluate(a, rules)).toMatchObject(expected);
  });

  it.each([
    ["one alert on one instance: the default impact (low)", { affected: 1, instances: 1 }, "low", "P4"],
    ["three instances: medium", { affected: 3, instances: 3 }, "medium", "P3"],
    ["ten alerts: high", { affected: 10, instances: 1 }, "high", "P2"],
  ] as const)("finishMatrix: %s", (_why, width, impact, priority) => {
    const d = evaluate(alertWith({ alertname: "Outage", severity: "warning" }), rules);
    expect(finishMatrix(d, rules.matrix, width)).toMatchObject({ priority, matrix: { impact, urgency: "medium" } });
  });

  it("response targets are overridable per priority; the others keep the support workflow's defaults", () => {
    expect(rules.responseTargets).toEqual({ P1: 300_000, P2: 1_800_000, P3: 3_600_000, P4: 86_400_000 });
  });
});
