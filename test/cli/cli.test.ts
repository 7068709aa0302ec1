import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { check } from "../../src/cli/check.js";
import { simulate } from "../../src/cli/simulate.js";
import { testRules } from "../../src/cli/test.js";
import { jsonSchemas, schemaText } from "../../src/rules/json-schema.js";
import { FIXTURES } from "../kit/service.js";

/** The CLI: check, test and simulate call the server's own match/decide/render code. */

const run = promisify(execFile);
const ROOT = new URL("../../", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "alertdesk-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function capture() {
  const out = new PassThrough();
  const err = new PassThrough();
  const text = { out: "", err: "" };
  out.on("data", (c: Buffer) => (text.out += c.toString()));
  err.on("data", (c: Buffer) => (text.err += c.toString()));
  return { out, err, text };
}

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/index.ts"), ...args], { cwd: ROOT });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe("alertdesk check", () => {
  it("the shipped rules are valid (exit 0), as a real process", { timeout: 120_000 }, async () => {
    const r = await cli("check", "rules/");
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toMatch(/^rules\/: \d+ rules in 1 file, OK\n$/);
  });

  it("lists every problem of every file with file:line:col and exits 1", () => {
    const a = join(tmp, "a.yaml");
    const b = join(tmp, "b.yaml");
    writeFileSync(a, "rules:\n  - name: x\n    priority: P5\n");
    writeFileSync(b, "rules:\n  - name: y\n    categroy: network\n");
    const io = capture();
    expect(check([a, b], io)).toBe(1);
    expect(io.text.err).toBe(
      `${a}:3:15: rules[0].priority: must be one of P1, P2, P3, P4, got "P5"\n${b}:3:5: rules[0]: unknown key "categroy" (did you mean "category"?)\n`,
    );
  });

  it("checks the config file too, and the helpdesks rules name against it", () => {
    const config = join(tmp, "alertdesk.yml");
    writeFileSync(config, "defualt_helpdesk: builtin\n");
    const io = capture();
    expect(check(["rules"], { ...io, config })).toBe(1);
    expect(io.text.err).toBe(`${config}:1:1: (body): unknown key "defualt_helpdesk" (did you mean "default_helpdesk"?)\n`);
    const rules = join(tmp, "routed.yaml");
    writeFileSync(rules, "rules:\n  - name: disk-full\n    helpdesk: jira-prod\n");
    const io2 = capture();
    expect(check([rules], io2)).toBe(1);
    expect(io2.text.err).toBe(`${rules}:2:5: undefined helpdesk "jira-prod" used in rule "disk-full"\n`);
  });

  it("builds every helpdesk as serve does: a helpdesk without its secret is an error with file:line:col", async () => {
    const config = join(tmp, "no-token.yml");
    writeFileSync(
      config,
      [
        "default_helpdesk: support",
        "helpdesks:",
        "  support:",
        "    type: zendesk",
        "    url: https://acme.zendesk.com",
        "    email: agent@acme.test",
        "  tracker: { type: rt, url: 'http://rt.example', queue: General }",
        "",
      ].join("\n"),
    );
    const io = capture();
    expect(check(["rules"], { ...io, config })).toBe(1);
    expect(io.text.err).toBe(
      `${config}:4:5: helpdesks.support: token or token_file is required\n${config}:7:12: helpdesks.tracker: token or token_file is required\n`,
    );
    expect(io.text.out).not.toMatch(/config OK/);
    // serve refuses the same config with the same words.
    const { loadServiceConfig } = await import("../../src/config/service.js");
    expect(() => loadServiceConfig({ ALERTDESK_CONFIG: config })).toThrow(`${config}:4:5: helpdesks.support: token or token_file is required`);
  });
});

describe("alertdesk test", () => {
  it("the default rules pass their shipped tests (rules/tests/), as a real process", { timeout: 120_000 }, async () => {
    const r = await cli("test", "rules/tests/");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\n(\d+) rule tests, \1 passed, 0 failed\n$/);
  });

  it("prints what differs and exits 1 when a case fails; rule_files are relative to the test file", async () => {
    const dir = mkdtempSync(join(tmp, "copy-"));
    writeFileSync(join(dir, "cpu.yaml"), "rules:\n  - name: cpu-high\n    matchers: ['alertname=\"HostHighCpu\"']\n    when: value > 80\n    priority: P2\n");
    writeFileSync(
      join(dir, "cpu.test.yaml"),
      [
        "rule_files: [cpu.yaml]",
        "tests:",
        "  - name: above 80",
        "    alerts: [{ labels: { alertname: HostHighCpu }, value: 81 }]",
        "    expect: { rule: cpu-high, priority: P2 }",
        "  - name: wrong on purpose",
        "    alerts: [{ labels: { alertname: HostHighCpu }, value: 50 }]",
        "    expect: { rule: cpu-high, priority: P2 }",
      ].join("\n"),
    );
    const io = capture();
    expect(await testRules([join(dir, "cpu.test.yaml")], io)).toBe(1);
    expect(io.text.out).toContain("  ok    above 80\n");
    expect(io.text.out).toContain('  FAIL  wrong on purpose\n        rule: want "cpu-high", got null\n        priority: want "P2", got "P3"\n');
    expect(io.text.out).toContain("2 rule tests, 1 passed, 1 failed\n");
  });

  it("a test file that does not fit its schema is a failure with the field named", async () => {
    const file = join(tmp, "bad.test.yaml");
    writeFileSync(file, "rule_files: [x.yaml]\ntests:\n  - name: t\n    expect: { priority: P9 }\n    alerts: [{ labels: {} }]\n");
    const io = capture();
    expect(await testRules([file], io)).toBe(1);
    expect(io.text.err).toContain(`${file}: tests[0].expect.priority:`);
  });
});

describe("alertdesk simulate", () => {
  const am = (n: string) => join(FIXTURES, "alertmanager", `${n}.json`);

  it("prints the plan of a timeline: the rule per alert, the incident, and the exact helpdesk operations", async () => {
    const io = capture();
    const files = [
      "01-first-firing-single",
      "03-repeat-unchanged",
      "04-group-gains-alert",
      "05-partial-resolve",
      "06-all-resolved",
      "07-refire-after-resolve",
    ].map(am);
    expect(await simulate(files, { ...io, rules: "rules" })).toBe(0);
    const text = io.text.out;
    expect(text).toContain(
      'alert LabServiceDown 829e647f700439a9 firing value=1: rule "service-down": P1 function → incident alertmanager receiver="bridge" {}/{}:{alertname="LabServiceDown"}',
    );
    expect(text).toContain('→ builtin: open "LabServiceDown on 127.0.0.1:19100: Service api is down" (P1, function, due 2026-11-25T06:01:53.081Z)');
    expect(text).toContain("03-repeat-unchanged.json: alertmanager, 3 alerts");
    expect(text).toContain('ignored by rule "info-chatter"');
    expect(text.match(/→ builtin: (\w+)/g)).toEqual(["→ builtin: open", "→ builtin: comment", "→ builtin: comment", "→ builtin: resolve", "→ builtin: reopen"]);
  });

  it("--json gives the same plan for machines", async () => {
    const io = capture();
    expect(await simulate([am("09-cpu-firing"), am("10-cpu-repeat-stale-value")], { ...io, json: true })).toBe(0);
    const plan = JSON.parse(io.text.out) as { incidents: { reason: string; operations: { op: string; priority?: string; title?: string }[] }[] }[];
    expect(plan.map((p) => p.incidents.map((i) => i.reason))).toEqual([["first notification"], ["unchanged"]]);
    expect(plan[0]?.incidents[0]?.operations[0]).toMatchObject({
      op: "open",
      priority: "P2",
      title: "HostHighCpu on 127.0.0.1:19100: High CPU usage on 127.0.0.1:19100",
    });
  });

  it("a payload that does not fit names the file and field, exit 1", async () => {
    const file = join(tmp, "bad.json");
    writeFileSync(file, JSON.stringify({ status: "firing", alerts: [{ labels: "x" }] }));
    const io = capture();
    expect(await simulate([file], io)).toBe(1);
    expect(io.text.err).toContain(`${file}: alerts[0].labels:`);
  });
});

describe("editor support", () => {
  it.each(Object.keys(jsonSchemas()))("schema/%s is in sync with the zod schema (npm run schema)", (name) => {
    expect(readFileSync(join(ROOT, "schema", name), "utf8")).toBe(schemaText(jsonSchemas()[name]));
  });

  it("the default rules point the YAML language server at the schema", () => {
    expect(readFileSync(join(ROOT, "rules/00-defaults.yaml"), "utf8").split("\n")[0]).toBe("# yaml-language-server: $schema=../schema/rules.schema.json");
  });

  // Four processes, each compiling the sources with tsx: seconds each on a slow, busy machine.
  it("every command has --help", { timeout: 240_000 }, async () => {
    for (const command of ["serve", "check", "test", "simulate"]) {
      const r = await cli(command, "--help");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: alertdesk ${command}`);
    }
  });
});
