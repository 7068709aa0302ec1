import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../observability/logger.js";
import { createMetrics } from "../observability/metrics.js";
import { RulesError } from "./load.js";
import { createRulesReloader, type RulesReloader } from "./reloader.js";

const dirs: string[] = [];
const reloaders: RulesReloader[] = [];
afterEach(() => {
  for (const r of reloaders.splice(0)) r.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(text: string) {
  const dir = mkdtempSync(join(tmpdir(), "alertdesk-reloader-"));
  dirs.push(dir);
  const path = join(dir, "rules.yaml");
  writeFileSync(path, text);
  const lines: string[] = [];
  const destination = new Writable({
    write(c: Buffer, _e, cb) {
      lines.push(c.toString());
      cb();
    },
  });
  const log = createLogger({ level: "info", destination });
  const metrics = createMetrics();
  let now = new Date("2026-12-01T10:00:00Z");
  const options = { path, defaultHelpdesk: "builtin", helpdesks: new Set(["builtin", "jira"]), clock: () => now, log, metrics };
  return { path, lines, metrics, options, advance: (ms: number) => (now = new Date(now.getTime() + ms)) };
}

const gauge = async (m: ReturnType<typeof createMetrics>, name: string) => (await m.registry.getSingleMetric(name)?.get())?.values[0]?.value;

describe("rules reloader", () => {
  it("loads the rules at start and sets the rules metrics", async () => {
    const s = setup("rules:\n  - name: a\n    priority: P2\n");
    const r = createRulesReloader({ ...s.options, watch: false });
    reloaders.push(r);
    expect(r.current().rules.map((x) => x.name)).toEqual(["a"]);
    expect(r.lastReload()).toEqual({ success: true, at: "2026-12-01T10:00:00.000Z" });
    expect(await gauge(s.metrics, "alertdesk_rules_loaded")).toBe(1);
    expect(await gauge(s.metrics, "alertdesk_rules_last_reload_success")).toBe(1);
  });

  it("refuses to start on rules that do not load, or that name an unknown helpdesk", () => {
    const bad = setup("rules:\n  - name: a\n    priority: P9\n");
    expect(() => createRulesReloader({ ...bad.options, watch: false })).toThrow(RulesError);
    const unknown = setup("rules:\n  - name: a\n    helpdesk: zendesk\n");
    expect(() => createRulesReloader({ ...unknown.options, watch: false })).toThrow(/undefined helpdesk "zendesk" used in rule "a"/);
  });

  it("a reload replaces the rules only when they load; a failed one keeps the previous rules and says why", async () => {
    const s = setup("rules:\n  - name: a\n");
    const r = createRulesReloader({ ...s.options, watch: false });
    reloaders.push(r);
    writeFileSync(s.path, "rules:\n  - name: a\n  - name: b\n    helpdesk: jira\n");
    s.advance(60_000);
    expect(r.reload("SIGHUP")).toEqual({ success: true, at: "2026-12-01T10:01:00.000Z" });
    expect(r.current().rules.map((x) => x.name)).toEqual(["a", "b"]);
    writeFileSync(s.path, "rules:\n  - name: c\n    helpdesk: nowhere\n");
    const failed = r.reload("POST /-/reload");
    expect(failed.success).toBe(false);
    expect(failed.error).toMatch(/undefined helpdesk "nowhere"/);
    expect(r.current().rules.map((x) => x.name)).toEqual(["a", "b"]);
    expect(await gauge(s.metrics, "alertdesk_rules_last_reload_success")).toBe(0);
    expect(await gauge(s.metrics, "alertdesk_rules_loaded")).toBe(2);
    expect(s.lines.join("")).toMatch(/rules reload failed; the previous rules keep running/);
  });

  it("an emptied rules file is a failed reload, so the previous rules keep running and the reload-failed alert can fire", async () => {
    const s = setup("rules:\n  - name: a\n  - name: b\n");
    const r = createRulesReloader({ ...s.options, watch: false });
    reloaders.push(r);
    writeFileSync(s.path, "");
    expect(r.reload("file change")).toMatchObject({ success: false, error: expect.stringMatching(/the file is empty/) });
    expect(r.current().rules).toHaveLength(2);
    expect(await gauge(s.metrics, "alertdesk_rules_last_reload_success")).toBe(0);
  });

  it("watches the file and reloads once the writes settle", async () => {
    const s = setup("rules:\n  - name: a\n");
    const r = createRulesReloader({ ...s.options, settleMs: 20 });
    reloaders.push(r);
    writeFileSync(s.path, "rules:\n  - name: watched\n");
    // Polls until the watcher fired; the limit only matters when it never does.
    for (let i = 0; i < 600 && r.current().rules[0]?.name !== "watched"; i++) await new Promise((res) => setTimeout(res, 50));
    expect(r.current().rules.map((x) => x.name)).toEqual(["watched"]);
    expect(s.lines.join("")).toMatch(/"reason":"file change"/);
  });
});
