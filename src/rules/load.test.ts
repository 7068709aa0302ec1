import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileRules, loadRules, RulesError } from "./load.js";

function problems(text: string): string[] {
  try {
    compileRules([{ file: "rules/cpu.yaml", text }]);
  } catch (err) {
    if (err instanceof RulesError) return err.problems;
    throw err;
  }
  return [];
}

describe("rule errors point at the problem", () => {
  it.each([
    [
      "a bad priority names the file, line, column, path and the bad value",
      "rules:\n  - name: a\n    priority: P5\n",
      'rules/cpu.yaml:3:15: rules[0].priority: must be one of P1, P2, P3, P4, got "P5"',
    ],
    [
      "an unknown key is an error, at the key",
      "rules:\n  - name: a\n    priorty: P2\n",
      'rules/cpu.yaml:3:5: rules[0]: unknown key "priorty" (did you mean "priority"?)',
    ],
    [
      "a bad category lists the five categories",
      "defaults:\n  category: speed\n",
      'rules/cpu.yaml:2:13: defaults.category: must be one of function, performance, network, configuration, consultation, got "speed"',
    ],
    [
      "a bad matcher quotes it",
      "rules:\n  - name: a\n    matchers: ['alertname']\n",
      'rules/cpu.yaml:3:16: rules[0].matchers[0]: bad matcher "alertname": want name="value" with one of = != =~ !~',
    ],
    [
      "a bad when: quotes the comparison",
      "rules:\n  - name: a\n    when: cpu > 80\n",
      'rules/cpu.yaml:3:11: rules[0].when: bad comparison "cpu > 80": want "value <op> <number>" with one of > >= < <= == !=',
    ],
    [
      "a bad duration says what a duration looks like",
      "rules:\n  - name: a\n    reopen_within: soon\n",
      "rules/cpu.yaml:3:20: rules[0].reopen_within: must be a duration like 30s, 10m, 1h, 24h or 7d",
    ],
    [
      "a bad on_resolved lists the choices",
      "rules:\n  - name: a\n    on_resolved: close\n",
      'rules/cpu.yaml:3:18: rules[0].on_resolved: must be one of solve, comment, none, got "close"',
    ],
    [
      "a duplicate rule name points at the first one",
      "rules:\n  - name: a\n  - name: a\n",
      'rules/cpu.yaml:3:11: rules[1].name: duplicate rule name "a", first defined at rules/cpu.yaml:2:5',
    ],
    ["a missing name", "rules:\n  - priority: P2\n", "rules/cpu.yaml:2:5: rules[0].name: must be a string, got nothing"],
    ["broken YAML", "rules: [\n", "rules/cpu.yaml:2:1: Flow sequence in block collection must be sufficiently indented and end with a ]"],
  ])("%s", (_why, text, message) => {
    expect(problems(text)).toEqual([message]);
  });

  it("lists every problem, not only the first", () => {
    expect(problems("rules:\n  - name: a\n    priority: P9\n  - name: b\n    category: x\n")).toHaveLength(2);
  });
});

describe("loadRules", () => {
  it("loads every *.yaml and *.yml of a directory, in name order, as one list", () => {
    const dir = mkdtempSync(join(tmpdir(), "alertdesk-rules-"));
    writeFileSync(join(dir, "20-b.yml"), "rules:\n  - name: second\n");
    writeFileSync(join(dir, "10-a.yaml"), "rules:\n  - name: first\n");
    writeFileSync(join(dir, "notes.txt"), "not rules");
    expect(loadRules(dir).rules.map((r) => r.name)).toEqual(["first", "second"]);
  });

  it("loads a single file", () => {
    const dir = mkdtempSync(join(tmpdir(), "alertdesk-rules-"));
    writeFileSync(join(dir, "one.yaml"), "defaults:\n  priority: P4\n");
    expect(loadRules(join(dir, "one.yaml")).defaults.priority).toBe("P4");
  });

  it("names a missing path", () => {
    expect(() => loadRules("/nonexistent/rules")).toThrow("/nonexistent/rules: cannot read rules: ENOENT");
  });

  it("the default rules load", () => {
    const rules = loadRules("rules");
    expect(rules.rules.length).toBeGreaterThan(5);
  });
});
